import { describe, expect, it } from 'vitest';
import { certificateGift, guustoStatus } from '../../src/providers/guusto/map.js';

describe('Guusto statuses', () => {
  it.each([
    ['ACCEPTED', 'PENDING'],
    ['WAITING_PROCESSING', 'PENDING'],
    ['PROCESSING_IN_PROGRESS', 'PROCESSING'],
    ['COMPLETED', 'SENT'],
    ['FAILED', 'FAILED'],
    ['SOMETHING_NEW', 'UNKNOWN'],
  ])('map %s to %s', (value, status) => {
    expect(guustoStatus(value)).toBe(status);
  });
});

describe('Guusto certificates', () => {
  const base = { id: 123123, currency: 'CAD', senderName: 'Acme', recipientUser: 2323, amount: 10, message: 'Thanks', shortToken: 'JKNW2' };

  it('keep a long token as a token, as documented', () => {
    expect(certificateGift({ ...base, longToken: 'KNEJ89JkAJ2KJL82kJnIJ2' })).toMatchObject({
      id: '123123',
      amount: { minor: 1000, currency: 'CAD' },
      longToken: 'KNEJ89JkAJ2KJL82kJnIJ2',
      redemptionUrl: null,
    });
  });

  it('read a long token that is a signed URL as the redemption URL', () => {
    expect(certificateGift({ ...base, longToken: 'https://guusto.example/r/abc?sig=1' })).toMatchObject({
      longToken: null,
      redemptionUrl: 'https://guusto.example/r/abc?sig=1',
    });
  });
});
