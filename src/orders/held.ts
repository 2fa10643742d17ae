import type { HeldRequest, OrderRecord, RecipientRecord } from '../core/records.js';
import type { ProviderAdapter, ProviderCapabilities, SendRecipient } from '../providers/adapter.js';
import type { PreparedSend } from './validate.js';

/**
 * Whether a send would be held by giftgraph until its time (true), rather than sent now or
 * scheduled at the provider (false): it has a send time, and its provider cannot schedule a send
 * itself (Guusto, &Open). A held send is recorded SCHEDULED, and giftgraph's scheduler sends it at
 * that time through the same path as any send.
 */
export function heldByGiftgraph(adapter: Pick<ProviderAdapter, 'capabilities'>, sendAt: string | Date | null | undefined): boolean {
  return sendAt !== null && sendAt !== undefined && sendAt !== '' && !adapter.capabilities.schedulesNatively;
}

/** A provider's capabilities as clients see them: every provider schedules a send, natively or held by giftgraph. */
export type ClientCapabilities = ProviderCapabilities & { canSchedule: boolean };

export const clientCapabilities = (adapter: Pick<ProviderAdapter, 'capabilities'>): ClientCapabilities => ({ ...adapter.capabilities, canSchedule: true });

/** What the ledger keeps of a held send's request besides its recipients and time. */
export const heldRequestOf = (prepared: PreparedSend): HeldRequest => ({
  message: prepared.message,
  senderName: prepared.senderName,
  timezone: prepared.timezone,
  options: prepared.options,
});

/** What a provider is sent of a recipient: the fields a send request and a ledger recipient share. */
export const sendRecipient = (r: SendRecipient): SendRecipient => ({
  position: r.position,
  email: r.email,
  employeeNumber: r.employeeNumber,
  firstName: r.firstName,
  lastName: r.lastName,
  company: r.company,
  department: r.department,
  amount: r.amount,
});

/**
 * A held send as the ledger holds it, ready for its provider now: the request as first asked, its
 * recipients in their order, and no send time, as the provider is to send it at once.
 */
export function heldSend(order: OrderRecord, recipients: readonly RecipientRecord[]): PreparedSend {
  const request = order.heldRequest;
  if (!request) throw new Error(`order ${order.id} was held without its request`);
  return {
    provider: order.provider,
    idempotencyKey: order.idempotencyKey,
    recipients: [...recipients].sort((a, b) => a.position - b.position).map(sendRecipient),
    message: request.message,
    senderName: request.senderName,
    sendAt: null,
    timezone: null,
    options: request.options,
    hash: order.requestHash,
  };
}
