import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import pino from 'pino';
import { LOG_REDACT_PATHS, redact } from '../../src/core/redact.js';

describe('redact', () => {
  it.each([
    ['mail ada@example.com now', 'mail [email] now'],
    ["o'brien.secret@example.com", '[email]'],
    ['x+tag@sub.example.co.uk', '[email]'],
    ['user@localhost', '[email]'],
  ])('removes addresses: %s', (text, expected) => {
    expect(redact(text)).toBe(expected);
  });

  it('removes credentials', () => {
    expect(redact('Authorization: Bearer abc.def.ghi')).toBe('Authorization: Bearer [redacted]');
    expect(redact('secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toBe('secret whsec_[redacted]');
    expect(redact('A valid bearer token is required')).toBe('A valid bearer token is required');
    expect(redact('Authorization: Bearer token.abc-def')).toBe('Authorization: Bearer [redacted]');
    expect(redact('Authorization: Bearer token-xyz')).toBe('Authorization: Bearer [redacted]');
  });

  it('drops a rejected value GraphQL would echo, keeping where it was', () => {
    expect(redact('Variable "$input" got invalid value { email: "x" }; Field "bogus" is not defined')).toBe('Variable "$input" got an invalid value; Field "bogus" is not defined');
    expect(redact('Variable "$input" got invalid value "1e3" at "input.amount.amount"; Expected a decimal')).toBe(
      'Variable "$input" got an invalid value at "input.amount.amount"; Expected a decimal',
    );
  });

  it('keeps emails and secrets out of log lines, on the line itself and one level down', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        lines.push(String(chunk));
        done();
      },
    });
    const log = pino({ redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } }, sink);
    log.info({ email: 'ada@example.com', token: 'abc', recipient: { email: 'grace@example.com', secret: 's3' } }, 'sent');
    expect(lines.join('')).not.toMatch(/example\.com|abc|s3/);
  });
});
