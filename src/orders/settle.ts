import type { Logger } from 'pino';
import { badInput, notFound } from '../core/errors.js';
import { encodeId } from '../core/global-id.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OrderRecord, RecipientRecord, Settlement } from '../core/records.js';
import type { Store } from '../store/store.js';
import type { Ingest } from './ingest.js';
import { checkSettlement, type SettleCommand } from './validate.js';

export interface SettleResult {
  order: OrderRecord;
  /** False when this settlement was recorded before: nothing changed. */
  settled: boolean;
}

/**
 * An operator's way out of UNCONFIRMED: a person checked with the provider what it has, and says so.
 * SENT makes the order (or recipient) ACCEPTED under the provider's reference, tracked from then on
 * as any other; NOT_SENT makes it NOT_SENT, so the same idempotency key may send it again. Recorded
 * with OPERATOR events naming who settled it; a settlement repeated as it was recorded changes nothing.
 */
export async function settleUnconfirmed(
  deps: { store: Store; ingest: Ingest; providers: ProviderRegistry; log: Logger; now: Date },
  tenant: string,
  orderId: string,
  cmd: SettleCommand,
  actor: string,
): Promise<SettleResult> {
  const { store, providers, log } = deps;
  const order = (await store.getOrders(tenant, [orderId]))[0];
  if (!order) throw notFound('Order');
  const recipients = await store.getRecipients([order.id]);
  const perRecipient = providers.get(order.provider)?.adapter.sendsPerRecipient === true;
  const ids = new Map(recipients.map((r) => [encodeId('Recipient', order.provider, r.id), r.id]));
  const settlement: Settlement = { orderId: order.id, actor, at: deps.now.toISOString(), ...checkSettlement(cmd, perRecipient, ids) };

  const outcome = await deps.ingest.settle(settlement);
  // The order as it is now: another settlement may have been recorded meanwhile.
  const current = (await store.getOrders(tenant, [order.id]))[0]!;
  if (outcome === 'settled') {
    log.info({ orderId: order.id, provider: order.provider, settled: describe(settlement) }, 'UNCONFIRMED outcome settled by an operator');
    return { order: current, settled: true };
  }
  if (outcome === 'reference_taken') {
    throw badInput(
      perRecipient ? 'input.recipients' : 'input.providerRef',
      `the ledger already holds ${order.provider}'s reference for another order or gift: check the reference with ${order.provider}`,
    );
  }
  if (await alreadySettled(store, current, await store.getRecipients([order.id]), settlement)) return { order: current, settled: false };
  throw badInput(
    perRecipient ? 'input.recipients' : 'input.orderId',
    perRecipient
      ? 'each recipient settled must still be UNCONFIRMED: only an outcome giftgraph could not know can be settled'
      : `this order is ${current.submission === 'SENDING' ? 'being sent now' : `${current.status}, not UNCONFIRMED`}: only an outcome giftgraph could not know can be settled`,
  );
}

/** Whether the ledger already holds exactly this settlement, recorded by an operator. */
async function alreadySettled(store: Store, order: OrderRecord, recipients: readonly RecipientRecord[], s: Settlement): Promise<boolean> {
  const byOperator = new Set((await store.getStatusEvents([order.id])).filter((e) => e.source === 'OPERATOR').map((e) => e.recipientId ?? 'order'));
  if (s.order) {
    const asked = s.order.outcome === 'SENT' ? order.submission === 'ACCEPTED' && order.providerRef === s.order.providerRef : order.submission === 'NOT_SENT';
    return asked && byOperator.has('order');
  }
  return (s.recipients ?? []).every((t) => {
    const r = recipients.find((x) => x.id === t.recipientId);
    const asked = t.outcome === 'SENT' ? r?.submission === 'ACCEPTED' && r.providerRef === t.providerRef : r?.submission === 'NOT_SENT';
    return asked && byOperator.has(t.recipientId);
  });
}

const describe = (s: Settlement) => s.order?.outcome ?? s.recipients?.map((r) => r.outcome);
