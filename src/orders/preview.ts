import { GiftgraphError } from '../core/errors.js';
import type { Money } from '../core/money.js';
import { type Problem, problemsOf } from '../core/problems.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store } from '../store/store.js';
import type { CatalogService } from './catalog.js';
import { heldByGiftgraph } from './held.js';
import { spendingLimitExceeded } from './spending.js';
import { type PreparedSend, prepareSend, type SendGiftsCommand } from './validate.js';

/** What a send would do, found without doing it. */
export interface SendPreviewResult {
  /** What the send asks per currency (of recipients whose amount is known). */
  totals: Money[];
  /** Each recipient's amount, in input order; null where the provider prices it (a product). */
  recipients: { position: number; amount: Money | null }[];
  /** giftgraph would hold it until its time (a provider that cannot schedule). */
  heldByGiftgraph: boolean;
  /** The provider would hold it until its time itself. */
  scheduledAtProvider: boolean;
  sendAt: string | null;
  /** The provider's balance where it reports one; null otherwise, or when it could not be asked now. */
  balance: Money[] | null;
  /** Whether that balance covers the totals; null when it is unknown. */
  balanceCovers: boolean | null;
  /** A spending limit would refuse it. */
  overSpendingLimit: boolean;
  /** Every problem sendGifts would report for this input, in its order. */
  problems: Problem[];
}

/**
 * previewSend: every check sendGifts makes, in its order, and what the send would cost, writing
 * nothing and calling no provider's write endpoint (a provider's catalog and balance are read).
 * Its problems are exactly those sendGifts would report for the same input now.
 */
export class SendPreviewer {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly catalog: CatalogService,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** What a same-key retry would send again: the amounts of the recipients certainly not sent. */
  private async unsentAmounts(orderId: string): Promise<Money[]> {
    return (await this.store.getRecipients([orderId])).filter((r) => r.submission === 'NOT_SENT').flatMap((r) => (r.amount ? [r.amount] : []));
  }

  async preview(tenant: string, cmd: SendGiftsCommand): Promise<SendPreviewResult> {
    const adapter = this.providers.get(cmd.provider)?.adapter;
    const now = this.clock();
    const prior = await this.store.findOrderByKey(tenant, cmd.idempotencyKey);
    let prepared: PreparedSend;
    try {
      prepared = await prepareSend(cmd, adapter, now, { replay: prior !== undefined });
    } catch (error) {
      const problems = problemsOf(error);
      if (!problems) throw error;
      return { ...NOTHING, problems };
    }
    const recipients = prepared.recipients.map((r) => ({ position: r.position, amount: r.amount }));
    const totals = totalsOf(recipients.map((r) => r.amount));
    const held = heldByGiftgraph(adapter!, prepared.sendAt);
    const problems: Problem[] = [];
    let overSpendingLimit = false;
    if (prior && prior.requestHash !== prepared.hash) {
      problems.push({ code: 'IDEMPOTENCY_CONFLICT', field: 'input.idempotencyKey', message: 'this key was already used for a different request', retryable: false });
    } else {
      // A replay returns the order sent before. A new send, the retry of one certainly not sent, and
      // the retry of recipients refused one by one spend (again), checked against the tenant's limits.
      const asked = !prior || prior.submission === 'NOT_SENT' ? totals : prior.submission === 'ACCEPTED' && adapter?.sendsPerRecipient ? await this.unsentAmounts(prior.id) : [];
      const refused = await this.store.checkSpending(tenant, asked, now.toISOString());
      if (refused) {
        overSpendingLimit = true;
        problems.push(...problemsOf(spendingLimitExceeded(refused))!);
      }
    }
    const balance = await this.catalog.balances(prepared.provider).catch((error: unknown) => {
      // A balance that cannot be read now is unknown; it is no problem of the send.
      if (error instanceof GiftgraphError) return null;
      throw error;
    });
    return {
      totals,
      recipients,
      heldByGiftgraph: held,
      scheduledAtProvider: prepared.sendAt !== null && !held,
      sendAt: prepared.sendAt,
      balance,
      balanceCovers: balance === null ? null : totals.every((t) => (balance.find((b) => b.currency === t.currency)?.minor ?? 0) >= t.minor),
      overSpendingLimit,
      problems,
    };
  }
}

const NOTHING: Omit<SendPreviewResult, 'problems'> = {
  totals: [],
  recipients: [],
  heldByGiftgraph: false,
  scheduledAtProvider: false,
  sendAt: null,
  balance: null,
  balanceCovers: null,
  overSpendingLimit: false,
};

function totalsOf(amounts: readonly (Money | null)[]): Money[] {
  const totals = new Map<string, number>();
  for (const a of amounts) if (a) totals.set(a.currency, (totals.get(a.currency) ?? 0) + a.minor);
  return [...totals].map(([currency, minor]) => ({ currency, minor }));
}
