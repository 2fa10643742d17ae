import { describe, expect, it } from 'vitest';
import type { GuustoCertificate } from '../../src/providers/guusto/api.js';
import { certificateGift, guustoStatus, matchCertificates, requestSnapshot } from '../../src/providers/guusto/map.js';

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

describe('Guusto certificates are matched to recipients', () => {
  const cert = (id: number, amount: number, recipientUser: GuustoCertificate['recipientUser']): GuustoCertificate => ({ id, currency: 'CAD', amount, recipientUser });
  const cad = (minor: number) => ({ minor, currency: 'CAD' });
  const ours = [
    { position: 0, email: 'ada@example.com', employeeNumber: null, amount: cad(1000) },
    { position: 1, email: null, employeeNumber: 'E-7', amount: cad(2000) },
    { position: 2, email: 'grace@example.com', employeeNumber: 'E-8', amount: cad(3000) },
  ];
  const owners = (matched: Map<number, GuustoCertificate>) => Object.fromEntries([...matched].map(([position, c]) => [position, c.id]));

  it('by the email or employee number the certificate names, whatever order they are listed in', () => {
    const listed = [cert(3, 30, { id: 9, email: 'GRACE@example.com' }), cert(2, 20, { id: 8, employeeNumber: 'E-7' }), cert(1, 10, 'ada@example.com')];
    expect(owners(matchCertificates(listed, ours))).toEqual({ 0: 1, 1: 2, 2: 3 });
  });

  it('by place only where the certificate names nobody, and only onto a recipient sent that amount', () => {
    expect(owners(matchCertificates([cert(1, 10, 2323), cert(2, 20, 2324), cert(3, 30, 2325)], ours))).toEqual({ 0: 1, 1: 2, 2: 3 });
    // Listed in another order: only the one whose place and amount agree is given out.
    expect(owners(matchCertificates([cert(3, 30, 2325), cert(2, 20, 2324), cert(1, 10, 2323)], ours))).toEqual({ 1: 2 });
  });

  it('never by place when the certificate names someone no recipient is', () => {
    expect(owners(matchCertificates([cert(1, 10, { id: 1, email: 'someone@else.com' })], ours))).toEqual({});
  });

  it('give a recipient no certificate rather than another one, and say how many were left over', () => {
    const snapshot = requestSnapshot({ requestId: 'r', requestStatus: 'COMPLETED' }, [cert(1, 10, { id: 1, email: 'someone@else.com' })], ours);
    expect(snapshot.recipients!.map((r) => [r.position, r.status, r.gift ?? null])).toEqual([
      [0, 'SENT', null],
      [1, 'SENT', null],
      [2, 'SENT', null],
    ]);
    expect(snapshot.details).toMatchObject({ unmatchedCertificates: 1 });
  });
});
