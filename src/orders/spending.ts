import { GiftgraphError, InputErrors } from '../core/errors.js';
import { formatAmount, parseMoney } from '../core/money.js';
import type { LimitRefusal, SpendingLimit, SpendingState, Store } from '../store/store.js';

const WINDOW_NAMES: Record<LimitRefusal['window'], string> = { DAY: 'rolling day', THIRTY_DAYS: 'rolling 30 days' };

/** A send refused for a spending limit, saying the limit and what remains of it; nothing was recorded. */
export function spendingLimitExceeded(refused: LimitRefusal): GiftgraphError {
  const money = (minor: number) => `${formatAmount({ minor, currency: refused.currency })} ${refused.currency}`;
  const remaining = Math.max(0, refused.limitMinor - refused.spentMinor);
  return new GiftgraphError(
    'SPENDING_LIMIT_EXCEEDED',
    `input.amount: this send of ${money(refused.askedMinor)} would exceed the spending limit of ${money(refused.limitMinor)} per ${WINDOW_NAMES[refused.window]}: ${money(remaining)} remains`,
    { field: 'input.amount', retryable: false },
  );
}

export interface SpendingLimitCommand {
  tenant: string;
  currency: string;
  perDay?: string | null;
  per30Days?: string | null;
}

const TENANT = /^[A-Za-z0-9_.-]{1,64}$/;

/** Spending limits: an operator sets them; a tenant sees its own, with what was committed against them. */
export class SpendingService {
  constructor(
    private readonly store: Store,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Sets a tenant's limits in one currency (both null: no limit), checked whole first; returns that
   * currency's state. An operator's token is its tenant's: it sets that tenant's limits, never another's.
   */
  async setLimit(cmd: SpendingLimitCommand, operator: { subject: string; tenant: string }): Promise<SpendingState> {
    const errors = new InputErrors();
    if (!TENANT.test(cmd.tenant)) errors.add('input.tenant', 'must be 1..64 letters, digits, dot, dash or underscore');
    else if (cmd.tenant !== operator.tenant) errors.add('input.tenant', "is not your token's tenant: an operator sets its own tenant's limits");
    const amount = (value: string | null | undefined, field: string): number | null => {
      if (value === null || value === undefined) return null;
      try {
        return parseMoney({ amount: value, currency: cmd.currency }, 'input').minor;
      } catch (error) {
        if (!(error instanceof GiftgraphError) || !error.details.field) throw error;
        // parseMoney names `input.amount` or `input.currency`; the limit's field is named instead.
        const target = error.details.field === 'input.currency' ? 'input.currency' : field;
        errors.add(target, error.message.slice(error.details.field.length + 2));
        return null;
      }
    };
    const limit: SpendingLimit = {
      tenant: cmd.tenant,
      currency: cmd.currency.toUpperCase(),
      perDayMinor: amount(cmd.perDay, 'input.perDay'),
      per30DaysMinor: amount(cmd.per30Days, 'input.per30Days'),
    };
    errors.throwIfAny();
    const now = this.clock().toISOString();
    await this.store.setSpendingLimit(limit, now, operator.subject);
    const state = (await this.store.spending(limit.tenant, now)).find((s) => s.currency === limit.currency);
    return state ?? { currency: limit.currency, perDayMinor: null, per30DaysMinor: null, perDaySpentMinor: 0, per30DaysSpentMinor: 0 };
  }

  /** Each currency the tenant has a limit in, or spent in over the last 30 days. */
  spending(tenant: string): Promise<SpendingState[]> {
    return this.store.spending(tenant, this.clock().toISOString());
  }
}
