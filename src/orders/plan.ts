import { isFinalStatus, isForwardMove } from '../core/model.js';
import type { Observation, OrderRecord, RecipientRecord } from '../core/records.js';

export interface PlannedChange {
  order: Partial<Pick<OrderRecord, 'status' | 'providerStatus' | 'providerRef' | 'details' | 'total'>>;
  recipients: { id: string; patch: Partial<Pick<RecipientRecord, 'status' | 'providerStatus' | 'providerRef' | 'gift' | 'email' | 'submission'>> }[];
  events: { recipientId: string | null; from: RecipientRecord['status']; to: RecipientRecord['status']; providerStatus: string }[];
}

/**
 * Decides what an observation changes, given the ledger's current state. Pure, so the store can
 * run it inside the same transaction that applies it. An observation that would move a status
 * backwards (a late webhook, a poll racing a webhook) changes nothing but fills in data not yet known,
 * and an observation repeating the current status produces no event.
 */
export function planObservation(order: OrderRecord, recipients: readonly RecipientRecord[], obs: Observation): PlannedChange {
  const plan: PlannedChange = { order: {}, recipients: [], events: [] };
  // A resend or a retry can bring a FAILED gift back to life, and so reopen the order it summarizes;
  // nothing else leaves a final status.
  const moves = (from: RecipientRecord['status'], to: RecipientRecord['status']) =>
    isForwardMove(from, to) || (obs.reopens === true && from === 'FAILED' && to !== 'FAILED' && to !== 'UNKNOWN');
  const orderMoves = isForwardMove(order.status, obs.status) || (obs.reopens === true && isFinalStatus(order.status) && obs.status !== order.status);

  if (orderMoves) {
    plan.order.status = obs.status;
    plan.order.providerStatus = obs.providerStatus;
    plan.events.push({ recipientId: null, from: order.status, to: obs.status, providerStatus: obs.providerStatus });
  } else if (keepsProviderValue(order.status, obs.status) && obs.providerStatus !== order.providerStatus) {
    plan.order.providerStatus = obs.providerStatus;
  }
  if (obs.providerRef && !order.providerRef) plan.order.providerRef = obs.providerRef;
  // Details from an observation as recent as the ledger's state win; a late one only fills gaps.
  const current = plan.order.status !== undefined || obs.status === order.status;
  const details = obs.details && (current ? { ...order.details, ...obs.details } : { ...obs.details, ...order.details });
  if (details && !sameDetails(details, order.details)) plan.order.details = details;
  if (obs.total && current && (obs.total.minor !== order.total?.minor || obs.total.currency !== order.total.currency)) plan.order.total = obs.total;

  const byId = new Map(recipients.map((r) => [r.id, r]));
  for (const seen of obs.recipients ?? []) {
    const current = byId.get(seen.recipientId);
    if (!current) continue;
    const patch: PlannedChange['recipients'][number]['patch'] = {};
    if (moves(current.status, seen.status)) {
      patch.status = seen.status;
      patch.providerStatus = seen.providerStatus;
      plan.events.push({ recipientId: current.id, from: current.status, to: seen.status, providerStatus: seen.providerStatus });
    } else if (keepsProviderValue(current.status, seen.status) && seen.providerStatus !== current.providerStatus) {
      patch.providerStatus = seen.providerStatus;
    }
    if (seen.providerRef && !current.providerRef) patch.providerRef = seen.providerRef;
    if (seen.gift && !current.gift) patch.gift = seen.gift;
    if (seen.email && seen.email !== current.email) patch.email = seen.email;
    if (seen.submission && seen.submission !== current.submission) patch.submission = seen.submission;
    if (Object.keys(patch).length > 0) plan.recipients.push({ id: current.id, patch });
  }
  return plan;
}

/**
 * Whether an observation that does not move the status still updates the provider's own value: a
 * new value within the same status, or one we do not recognize (UNKNOWN) while the gift can still
 * change, so the value is kept for whoever reads `providerStatus` though the status stays put.
 */
const keepsProviderValue = (current: RecipientRecord['status'], seen: RecipientRecord['status']): boolean => seen === current || (seen === 'UNKNOWN' && !isFinalStatus(current));

const sameDetails = (a: Record<string, unknown>, b: Record<string, unknown>): boolean =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => JSON.stringify(v) === JSON.stringify(b[k]));

export const isEmptyPlan = (plan: PlannedChange): boolean => Object.keys(plan.order).length === 0 && plan.recipients.length === 0 && plan.events.length === 0;
