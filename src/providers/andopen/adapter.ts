import type { InputErrors } from '../../core/errors.js';
import { decodeId } from '../../core/global-id.js';
import { isFinalStatus, type GiftStatus } from '../../core/model.js';
import type { Submission } from '../../core/records.js';
import type {
  CatalogEntry,
  CreateOutcome,
  OrderSnapshot,
  ProviderAdapter,
  ProviderWebhooks,
  SendRecipient,
  SendRequest,
  ValidationInput,
  ProviderOrder,
  ProviderRecipient,
} from '../adapter.js';
import { chainedList, drain, isChainPosition, mapList, type ChainPosition, type PagedList } from '../../pagination/native.js';
import { Cached } from '../cached.js';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, type CallObservers } from '../http.js';
import { AndOpenApi, CAMPAIGN_PAGE, type Campaign, type GiftRequest } from './api.js';
import { isJsonApi, type AndOpenConnection } from './config.js';
import { andOpenWebhooks } from './webhook.js';

export interface AndOpenOptions {
  /** A CAMPAIGN id as `catalog(provider: ANDOPEN)` returns it. */
  campaignId?: string | null;
}

/**
 * &Open's gift request states [doc] in the unified lifecycle: submitted (the redemption link exists,
 * awaiting redemption) is SENT; dispatched is SHIPPED. `pending` appears only in one published copy
 * of the JSON:API create example (developers.andopen.co/docs/gift-requests/create): accepted, not
 * yet processed.
 */
const STATES: Record<string, GiftStatus> = {
  pending: 'PENDING',
  submitted: 'SENT',
  redeemed: 'REDEEMED',
  dispatched: 'SHIPPED',
  delivered: 'DELIVERED',
  cancelled: 'CANCELED',
  canceled: 'CANCELED',
};

export const andOpenStatus = (state: string): GiftStatus => STATES[state.toLowerCase()] ?? 'UNKNOWN';

/** Names are 2 to 255 letters [doc]. */
const NAME = /^\p{L}{2,255}$/u;
const CONCURRENCY = 4;

type RecipientOutcome = NonNullable<OrderSnapshot['recipients']>[number];

export class AndOpenAdapter implements ProviderAdapter {
  readonly provider = 'ANDOPEN' as const;
  readonly capabilities = {
    canCancel: false,
    canResend: false,
    canListOrders: false,
    schedulesNatively: false,
    hasWebhooks: true,
    deduplicatesCreates: false,
  };
  readonly sendsPerRecipient = true;
  readonly api: AndOpenApi;
  readonly webhooks: ProviderWebhooks | undefined;
  /**
   * Campaigns, newest first, in either pagination style: `after=<id>` with `has_more` (2026-05),
   * where any campaign is a place to resume, or the `links.next` URL of each page (JSON:API).
   */
  readonly catalogPages: PagedList<CatalogEntry, ChainPosition>;
  /** Every campaign, for input checks. */
  private readonly campaigns = new Cached<CatalogEntry[]>(async () => {
    const entries = await drain(this.catalogPages.list, CAMPAIGN_PAGE);
    return [...new Map(entries.map((e) => [e.localId, e])).values()];
  });

  /** `observers`: where the API client reports its calls (the registry's hub); `guards`: the registry's limiters and circuits. */
  constructor(connection: AndOpenConnection, timeoutMs: number, observers?: CallObservers, guards?: ProviderGuards) {
    this.api = new AndOpenApi(connection, timeoutMs, observers, guards);
    const campaigns = chainedList(
      async (cursor) => {
        const page = await this.api.campaignsPage(cursor ?? undefined);
        return { items: page.campaigns, next: page.next ?? null };
      },
      isJsonApi(connection.version) ? undefined : (campaign) => campaign.id,
    );
    this.catalogPages = { list: mapList(campaigns, campaignEntry), isPosition: isChainPosition };
    this.webhooks = connection.webhookSecret ? andOpenWebhooks(connection.webhookSecret) : undefined;
  }

  validate(input: ValidationInput, errors: InputErrors): void {
    const options = (input.options ?? {}) as AndOpenOptions;
    if (!options.campaignId) errors.add('input.andOpen.campaignId', '&Open needs a campaignId from catalog(provider: ANDOPEN)');
    else if (!campaignOf(options)) errors.add('input.andOpen.campaignId', 'is not an &Open campaign id');
    if (input.message) errors.add('input.message', '&Open sends what the campaign defines, with no message of ours');
    for (const r of input.recipients) {
      const field = `input.recipients[${r.position}]`;
      for (const [key, value] of [
        ['firstName', r.firstName],
        ['lastName', r.lastName],
      ] as const) {
        if (!value) errors.add(`${field}.${key}`, '&Open needs a first and a last name');
        else if (!NAME.test(value)) errors.add(`${field}.${key}`, 'must be 2 to 255 letters, as &Open requires');
      }
      if (r.amount) errors.add(`${field}.amount`, "&Open's campaign defines the gift: leave the amount out");
    }
  }

  async validateRemote(input: ValidationInput, errors: InputErrors): Promise<void> {
    const id = campaignOf((input.options ?? {}) as AndOpenOptions);
    if (!id) return;
    try {
      await this.api.getCampaign(id);
    } catch (error) {
      if (error instanceof ProviderCallError && error.status === 404) errors.add('input.andOpen.campaignId', 'is not an &Open campaign');
      // Anything else: &Open checks the campaign again when it gets the gift requests.
    }
  }

  /** One gift request per recipient. Each has its own outcome; none is sent twice. */
  async create(request: SendRequest): Promise<CreateOutcome> {
    const campaignId = campaignOf(request.options as AndOpenOptions)!;
    const outcomes = await mapLimited(request.recipients, CONCURRENCY, (r) => this.send(campaignId, r));
    const failures = outcomes.filter((o) => o.error).map((o) => o.error!);
    const snapshot: OrderSnapshot = { providerRef: '', status: 'SENT', providerStatus: '', recipients: outcomes.map((o) => o.recipient) };
    // Only a uniform failure is the whole order's: anything mixed is recorded recipient by recipient,
    // so a retry can send to the refused ones and never to those whose outcome is unknown.
    if (failures.length === outcomes.length && failures.every((e) => e.kind === 'unknown')) return { kind: 'unknown', error: failures[0]! };
    if (failures.length === outcomes.length && failures.every((e) => e.kind !== 'unknown')) return { kind: 'not_sent', error: mergeProblems(failures) };
    return { kind: 'accepted', snapshot };
  }

  isSettled(order: ProviderOrder): boolean {
    // The order summarizes its recipients: final once every gift request sent is final.
    return order.submission !== 'ACCEPTED' || isFinalStatus(order.status);
  }

  async refresh(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot> {
    const sent = recipients.filter((r) => r.providerRef && !isFinalStatus(r.status));
    const fresh = await mapLimited(sent, CONCURRENCY, async (r) => ({ recipient: r, request: await this.api.getGiftRequest(r.providerRef!) }));
    const seen = fresh.map(({ recipient, request }) => giftRequestOutcome(recipient.position, request, 'ACCEPTED'));
    return { providerRef: '', status: order.status, providerStatus: order.providerStatus, recipients: seen };
  }

  catalog(): Promise<CatalogEntry[]> {
    return this.campaigns.get();
  }

  close(): Promise<void> {
    return this.api.close();
  }

  private async send(campaignId: string, r: SendRecipient): Promise<{ recipient: RecipientOutcome; error?: ProviderCallError }> {
    try {
      const request = await this.api.createGiftRequest({ campaignId, firstName: r.firstName!, lastName: r.lastName!, email: r.email });
      return { recipient: giftRequestOutcome(r.position, request, 'ACCEPTED') };
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error;
      const sent: Submission = error.kind === 'unknown' ? 'UNCONFIRMED' : 'NOT_SENT';
      const problems = error.problems.map((p) => ({ ...p, param: p.param ?? paramFromText(p.message) }));
      const located = Object.assign(new ProviderCallError('ANDOPEN', error.kind, error.message, error.status, error.providerCode, error.retryAfterMs), {
        problems: problems.map((p) => ({ ...p, param: p.param ? fieldOf(p.param, r.position) : undefined })),
      });
      return {
        recipient: {
          position: r.position,
          status: sent === 'NOT_SENT' ? 'FAILED' : 'UNCONFIRMED',
          providerStatus: error.providerCode ?? (sent === 'NOT_SENT' ? 'NOT_SENT' : ''),
          submission: sent,
          failure: located,
        },
        error: located,
      };
    }
  }
}

function giftRequestOutcome(position: number, request: GiftRequest, submission: Submission): RecipientOutcome {
  return {
    position,
    status: andOpenStatus(request.state),
    providerStatus: request.state,
    providerRef: request.id,
    submission,
    gift: request.redemptionUrl ? { kind: 'link', url: request.redemptionUrl, expiresAt: null } : null,
  };
}

function campaignOf(options: AndOpenOptions): string | undefined {
  if (!options.campaignId) return undefined;
  const decoded = decodeId(options.campaignId, 'CatalogItem');
  if (decoded?.provider !== 'ANDOPEN' || !decoded.local.startsWith('campaign:')) return undefined;
  return decoded.local.slice('campaign:'.length) || undefined;
}

/** &Open's parameter names, in both versions, as our input's fields. */
function fieldOf(param: string, position: number): string {
  const name = param.replace(/^(recipient|data\.attributes)\./, '');
  if (/^campa\w*_id$/.test(name)) return 'input.andOpen.campaignId';
  if (name === 'first_name') return `input.recipients[${position}].firstName`;
  if (name === 'last_name') return `input.recipients[${position}].lastName`;
  if (name === 'email') return `input.recipients[${position}].email`;
  return `input.recipients[${position}]`;
}

/** JSON:API errors name no parameter; their detail does ("campaing_id does not exist", "...: first_name"). */
function paramFromText(text: string): string | undefined {
  return /\b(campa\w*_id|first_name|last_name|email)\b/.exec(text)?.[1];
}

function mergeProblems(errors: ProviderCallError[]): ProviderCallError {
  const first = errors[0]!;
  return Object.assign(new ProviderCallError('ANDOPEN', first.kind, first.message, first.status, first.providerCode), {
    problems: errors.flatMap((e) => e.problems),
  });
}

async function mapLimited<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const campaignEntry = (c: Campaign): CatalogEntry => ({
  localId: `campaign:${c.id}`,
  kind: 'CAMPAIGN',
  name: c.name,
  currency: null,
  prices: [],
  minAmount: null,
  maxAmount: null,
});
