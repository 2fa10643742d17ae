import { z } from 'zod';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, ProviderHttpClient, type CallObservers, type ProviderProblem } from '../http.js';
import { parseResponse } from '../parse.js';
import { isJsonApi, type AndOpenConnection, type AndOpenVersion } from './config.js';

/** A gift request as both API versions describe it, read into one shape. */
export interface GiftRequest {
  id: string;
  state: string;
  redemptionUrl: string | null;
  createdAt: string | null;
}

export interface Campaign {
  id: string;
  name: string;
}

export interface NewGiftRequest {
  campaignId: string;
  firstName: string;
  lastName: string;
  email: string | null;
}

// A gift request's state is `state` in the seed's JSON:API example and `status` in 2026-05 and in
// another published copy of the JSON:API create page (developers.andopen.co/docs/gift-requests/create).
// Either is read, in both versions, so a field name never turns a created gift request into an unknown.
const stateFields = { state: z.string().nullish(), status: z.string().nullish() };

// 2026-05: flat JSON.
const flatGiftRequest = z.object({
  id: z.string(),
  ...stateFields,
  redemption_url: z.string().nullish(),
  created_at: z.string().nullish(),
});
const flatCampaign = z.object({ id: z.string(), name: z.string() });
const flatCampaignPage = z.object({ data: z.array(flatCampaign), has_more: z.boolean() });

// 2025-10 and 2025-09: JSON:API.
const jsonApiGiftRequest = z.object({
  data: z.object({
    id: z.string(),
    attributes: z.object({ ...stateFields, redemption_url: z.string().nullish(), created_at: z.string().nullish() }),
  }),
});
const jsonApiCampaign = z.object({ id: z.string(), attributes: z.object({ name: z.string() }) });
const jsonApiCampaignPage = z.object({ data: z.array(jsonApiCampaign), links: z.object({ next: z.string().nullish() }).nullish() });

/** &Open's limit per campaigns page, in `2026-05` [doc]. */
export const CAMPAIGN_PAGE = 25;

/**
 * Typed calls to &Open in either API version, chosen by configuration: the version header on every
 * request, and each version's own body, response and error shapes.
 */
export class AndOpenApi {
  readonly http: ProviderHttpClient;
  readonly version: AndOpenVersion;
  private readonly origin: string;

  constructor(connection: AndOpenConnection, timeoutMs: number, observers?: CallObservers, guards?: ProviderGuards) {
    this.version = connection.version;
    this.origin = new URL(connection.baseUrl).origin;
    this.http = new ProviderHttpClient({
      provider: 'ANDOPEN',
      observers,
      guards,
      baseUrl: connection.baseUrl,
      timeoutMs,
      headers: () => ({
        authorization: `Bearer ${connection.apiKey}`,
        'andopen-api-version': connection.version,
        ...(isJsonApi(connection.version) ? { accept: 'application/vnd.api+json' } : {}),
      }),
      readError: readAndOpenError,
    });
  }

  /** Not idempotent: &Open documents no deduplication, so an unanswered create is never sent again. */
  async createGiftRequest(request: NewGiftRequest): Promise<GiftRequest> {
    const flat = !isJsonApi(this.version);
    const recipient = { first_name: request.firstName, last_name: request.lastName, ...(request.email ? { email: request.email } : {}) };
    const body = flat ? { campaign_id: request.campaignId, recipient } : { data: { type: 'gift_requests', attributes: { campaign_id: request.campaignId, ...recipient } } };
    const res = await this.http.request({
      method: 'POST',
      path: '/gift_requests',
      body,
      headers: flat ? {} : { 'content-type': 'application/vnd.api+json' },
      idempotent: false,
    });
    return this.readGiftRequest(res.body, 'POST /gift_requests', true);
  }

  async getGiftRequest(id: string): Promise<GiftRequest> {
    const res = await this.http.request({ method: 'GET', path: `/gift_requests/${encodeURIComponent(id)}`, idempotent: true });
    return this.readGiftRequest(res.body, 'GET /gift_requests/{id}');
  }

  async getCampaign(id: string): Promise<Campaign> {
    const res = await this.http.request({ method: 'GET', path: `/campaigns/${encodeURIComponent(id)}`, idempotent: true });
    if (!isJsonApi(this.version)) return parseResponse('ANDOPEN', '&Open', flatCampaign, res.body, 'GET /campaigns/{id}');
    const { data } = parseResponse('ANDOPEN', '&Open', z.object({ data: jsonApiCampaign }), res.body, 'GET /campaigns/{id}');
    return { id: data.id, name: data.attributes.name };
  }

  /**
   * One page of campaigns, newest first, and where the next one starts: `after=<last id>` with
   * `has_more` in 2026-05, the `links.next` URL in JSON:API. Undefined when this was the last page.
   */
  async campaignsPage(next?: string): Promise<{ campaigns: Campaign[]; next?: string }> {
    if (!isJsonApi(this.version)) {
      const res = await this.http.request({ method: 'GET', path: '/campaigns', query: { limit: CAMPAIGN_PAGE, after: next }, idempotent: true });
      const page = parseResponse('ANDOPEN', '&Open', flatCampaignPage, res.body, 'GET /campaigns');
      return { campaigns: page.data, next: page.has_more && page.data.length > 0 ? page.data.at(-1)!.id : undefined };
    }
    const res = await this.http.request({ method: 'GET', path: next ?? '/campaigns', idempotent: true });
    const page = parseResponse('ANDOPEN', '&Open', jsonApiCampaignPage, res.body, 'GET /campaigns');
    return { campaigns: page.data.map((c) => ({ id: c.id, name: c.attributes.name })), next: this.sameOriginPath(page.links?.next) };
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /**
   * A gift request in this version's shape, its state from `state` or `status`. A created one that
   * names neither still has its id, so it is kept (state unknown until it is read again); a read
   * that names neither is not an answer we can use.
   */
  private readGiftRequest(body: unknown, what: string, created = false): GiftRequest {
    const r = isJsonApi(this.version)
      ? (({ data }) => ({ id: data.id, ...data.attributes }))(parseResponse('ANDOPEN', '&Open', jsonApiGiftRequest, body, what))
      : parseResponse('ANDOPEN', '&Open', flatGiftRequest, body, what);
    const state = r.state || r.status;
    if (!state && !created) throw new ProviderCallError('ANDOPEN', 'unknown', `&Open's answer to ${what} named no state or status`);
    return { id: r.id, state: state ?? '', redemptionUrl: r.redemption_url ?? null, createdAt: r.created_at ?? null };
  }

  /** A `links.next` is followed only on &Open's own origin, so a response cannot send our token elsewhere. */
  private sameOriginPath(link: string | null | undefined): string | undefined {
    if (!link) return undefined;
    const url = new URL(link, this.origin);
    return url.origin === this.origin ? `${url.pathname}${url.search}` : undefined;
  }
}

/** Both error shapes: `{errors: [{type, code, message, param}]}` (2026-05) and `{errors: [{status, detail}]}` (JSON:API). */
function readAndOpenError(_status: number, body: unknown): { code?: string; message?: string; problems?: ProviderProblem[] } {
  const errors = (body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return {};
  const problems = errors.map((e: Record<string, unknown>) => ({
    ...(typeof e.param === 'string' ? { param: e.param } : {}),
    message: String(e.message ?? e.detail ?? 'invalid'),
  }));
  const first = errors[0] as Record<string, unknown>;
  return { code: typeof first.code === 'string' ? first.code : undefined, message: problems.map((p) => p.message).join('; '), problems };
}
