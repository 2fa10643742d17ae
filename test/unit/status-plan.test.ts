import { describe, expect, it } from 'vitest';
import { isForwardMove, summarizeStatus } from '../../src/core/model.js';
import { planObservation } from '../../src/orders/plan.js';
import type { OrderRecord, RecipientRecord } from '../../src/core/records.js';

const order = (status: OrderRecord['status'], providerStatus = ''): OrderRecord => ({
  id: 'o1',
  tenant: 't',
  provider: 'GUUSTO',
  origin: 'GIFTGRAPH',
  idempotencyKey: 'k',
  requestHash: 'h',
  submission: 'ACCEPTED',
  providerRef: 'r',
  status,
  providerStatus,
  total: null,
  scheduledFor: null,
  details: {},
  lastError: null,
  createdAt: '',
  updatedAt: '',
});
const recipient = (status: RecipientRecord['status']): RecipientRecord => ({
  id: 'r1',
  orderId: 'o1',
  position: 0,
  email: null,
  employeeNumber: null,
  firstName: null,
  lastName: null,
  company: null,
  department: null,
  amount: null,
  status,
  providerStatus: '',
  providerRef: null,
  gift: null,
  submission: null,
});
const seen = (status: OrderRecord['status'], providerStatus: string) => ({ orderId: 'o1', source: 'POLL' as const, occurredAt: 't', status, providerStatus });

describe('status changes', () => {
  it('move forward, never backwards, and never out of a final state', () => {
    expect(isForwardMove('PENDING', 'SENT')).toBe(true);
    expect(isForwardMove('SENT', 'PENDING')).toBe(false);
    expect(isForwardMove('SENT', 'SENT')).toBe(false);
    expect(isForwardMove('UNCONFIRMED', 'PENDING')).toBe(true);
    expect(isForwardMove('DELIVERED', 'FAILED')).toBe(false);
    expect(isForwardMove('PROCESSING', 'FAILED')).toBe(true);
    expect(isForwardMove('SENT', 'UNKNOWN')).toBe(false);
  });

  it('produce one event for a real change and none for a repeat or a late observation', () => {
    const forward = planObservation(order('PENDING', 'ACCEPTED'), [], seen('PROCESSING', 'PROCESSING_IN_PROGRESS'));
    expect(forward.events).toEqual([{ recipientId: null, from: 'PENDING', to: 'PROCESSING', providerStatus: 'PROCESSING_IN_PROGRESS' }]);
    expect(planObservation(order('PROCESSING', 'PROCESSING_IN_PROGRESS'), [], seen('PROCESSING', 'PROCESSING_IN_PROGRESS')).events).toEqual([]);
    const late = planObservation(order('SENT', 'COMPLETED'), [], seen('PENDING', 'ACCEPTED'));
    expect(late.events).toEqual([]);
    expect(late.order).toEqual({});
  });

  it('keep the provider value when it changes within one status, without an event', () => {
    const plan = planObservation(order('PENDING', 'ACCEPTED'), [], seen('PENDING', 'WAITING_PROCESSING'));
    expect(plan.order).toEqual({ providerStatus: 'WAITING_PROCESSING' });
    expect(plan.events).toEqual([]);
  });

  it('keep a provider value they do not recognize while the gift can change, leaving the status and making no event', () => {
    const live = planObservation(order('PROCESSING', 'IN_PROGRESS'), [recipient('PROCESSING')], {
      ...seen('UNKNOWN', 'ON_HOLD'),
      recipients: [{ recipientId: 'r1', status: 'UNKNOWN', providerStatus: 'ON_HOLD' }],
    });
    expect(live.order).toEqual({ providerStatus: 'ON_HOLD' });
    expect(live.recipients).toEqual([{ id: 'r1', patch: { providerStatus: 'ON_HOLD' } }]);
    expect(live.events).toEqual([]);
    expect(planObservation(order('FAILED', 'REJECTED'), [], seen('UNKNOWN', 'ON_HOLD')).order).toEqual({});
  });

  it("record a recipient's gift once and keep it", () => {
    const gift = { kind: 'link' as const, url: 'https://x' };
    const plan = planObservation(order('PENDING'), [recipient('PENDING')], {
      ...seen('SENT', 'COMPLETED'),
      recipients: [{ recipientId: 'r1', status: 'SENT', providerStatus: 'COMPLETED', gift }],
    });
    expect(plan.recipients).toEqual([{ id: 'r1', patch: { status: 'SENT', providerStatus: 'COMPLETED', gift } }]);
    expect(plan.events.map((e) => e.recipientId)).toEqual([null, 'r1']);
  });

  it('summarize an order by its least advanced live recipient', () => {
    expect(summarizeStatus(['SENT', 'PENDING', 'FAILED'], 'UNKNOWN')).toBe('PENDING');
    expect(summarizeStatus(['FAILED', 'CANCELED'], 'UNKNOWN')).toBe('FAILED');
    expect(summarizeStatus([], 'PENDING')).toBe('PENDING');
  });
});

describe('provider details', () => {
  it('take the newest values from an observation as recent as the ledger, and only fill gaps from a late one', () => {
    const now = { ...order('SENT', 'COMPLETED'), details: { certificatesComplete: false, orderStep: 'COMPLETED' } };
    expect(planObservation(now, [], { ...seen('SENT', 'COMPLETED'), details: { certificatesComplete: true } }).order.details).toEqual({
      certificatesComplete: true,
      orderStep: 'COMPLETED',
    });
    const late = planObservation(now, [], { ...seen('PENDING', 'ACCEPTED'), details: { orderStep: 'PENDING', requestId: 'r-1' } });
    expect(late.order.details).toEqual({ certificatesComplete: false, orderStep: 'COMPLETED', requestId: 'r-1' });
    expect(planObservation(now, [], { ...seen('SENT', 'COMPLETED'), details: { orderStep: 'COMPLETED' } }).order.details).toBeUndefined();
  });
});
