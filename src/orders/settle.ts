import type { Logger } from 'pino';
import { badInput, notFound } from '../core/errors.js';
import { encodeId } from '../core/global-id.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OrderRecord, RecipientRecord, Settlement } from '../store/records.js';
import type { Store } from '../store/store.js';
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
  deps: { store: Store; providers: ProviderRegistry; log: Logger; now: Date },
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

  if (await store.settle(settlement)) {
    log.info({ orderId: order.id, provider: order.provider, actor, settled: describe(settlement) }, 'UNCONFIRMED outcome settled by an operator');
    return { order: (await store.getOrders(tenant, [order.id]))[0]!, settled: true };
  }
  if (await alreadySettled(store, order, recipients, settlement)) return { order, settled: false };
  throw badInput(
    perRecipient ? 'input.recipients' : 'input.orderId',
    `this order is ${order.status}${perRecipient ? ', and what is settled must be each recipient still UNCONFIRMED' : ', not UNCONFIRMED'}: only an outcome giftgraph could not know can be settled`,
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
