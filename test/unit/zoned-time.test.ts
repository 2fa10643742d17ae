import { describe, expect, it } from 'vitest';
import { fromZonedLocal, toZonedLocal } from '../../src/core/zoned-time.js';

describe('zoned wall-clock time', () => {
  it.each([
    ['2024-03-01T14:00:00Z', 'America/New_York', '2024-03-01T09:00:00'],
    ['2024-07-01T13:00:00Z', 'America/New_York', '2024-07-01T09:00:00'],
    ['2027-01-15T00:00:00Z', 'Asia/Tokyo', '2027-01-15T09:00:00'],
    ['2024-10-27T03:30:00Z', 'Europe/London', '2024-10-27T03:30:00'],
    ['2024-12-31T23:59:59Z', 'UTC', '2024-12-31T23:59:59'],
  ])('%s in %s is %s, and back', (instant, zone, local) => {
    expect(toZonedLocal(new Date(instant), zone)).toBe(local);
    expect(fromZonedLocal(local, zone)?.toISOString()).toBe(new Date(instant).toISOString());
  });

  it('refuses text that is not a local date-time', () => {
    expect(fromZonedLocal('2024-03-01', 'UTC')).toBeUndefined();
    expect(fromZonedLocal('2024-03-01T09:00:00Z', 'UTC')).toBeUndefined();
  });
});

describe('repeated local times', () => {
  it('are both instants of the hour that repeats when clocks go back, and nothing else', async () => {
    const { isRepeatedLocalTime } = await import('../../src/core/zoned-time.js');
    expect(isRepeatedLocalTime(new Date('2027-11-07T05:30:00Z'), 'America/New_York')).toBe(true);
    expect(isRepeatedLocalTime(new Date('2027-11-07T06:30:00Z'), 'America/New_York')).toBe(true);
    expect(isRepeatedLocalTime(new Date('2027-11-07T07:30:00Z'), 'America/New_York')).toBe(false);
    expect(isRepeatedLocalTime(new Date('2027-03-14T07:30:00Z'), 'America/New_York')).toBe(false);
    expect(isRepeatedLocalTime(new Date('2027-01-15T00:00:00Z'), 'Asia/Tokyo')).toBe(false);
  });
});
