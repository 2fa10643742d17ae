import type { SendGiftsInput } from '../generated/graphql.js';

/** A Guusto send to two recipients, the one the live-status tests follow through its life. */
export const twoRecipientGuusto = (key: string): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thanks!',
  amount: { amount: '10', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com' }, { email: 'grace@example.com' }],
});

/** Every status change of that send, as `Subscriber.transitions()` writes them, in order. */
export const GUUSTO_LIFE = [
  // The creation: from no status, never a visible UNCONFIRMED step.
  '*:null>PENDING',
  'ada@example.com:null>PENDING',
  'grace@example.com:null>PENDING',
  '*:PENDING>PROCESSING',
  'ada@example.com:PENDING>PROCESSING',
  'grace@example.com:PENDING>PROCESSING',
  '*:PROCESSING>SENT',
  'ada@example.com:PROCESSING>SENT',
  'grace@example.com:PROCESSING>SENT',
];
