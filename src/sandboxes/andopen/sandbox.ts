import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { systemClock, type SandboxClock } from '../kit/clock.js';
import { SandboxHttpServer, type SandboxReply, type SandboxRequest } from '../kit/server.js';
import { SnapshotFile } from '../kit/snapshot.js';
import { WebhookSender, type WebhookTarget } from '../kit/webhooks.js';

export interface AndOpenSandboxOptions {
  /** The full key, `ao-v1-staging-<secret>`. */
  apiKey: string;
  clock?: SandboxClock;
  /** Time each step takes: submitted → redeemed → dispatched → delivered. */
  stepMs?: number;
  /** How many campaigns exist: more than a page (25), so paging is exercised. */
  campaigns?: number;
  webhookUrl?: WebhookTarget;
  webhookSecret?: string;
  /**
   * The API version webhooks are serialised in (an endpoint's setting, like its URL): 2026-05 sends
   * the flat resource and event headers, the JSON:API versions a JSON:API document and no event headers.
   */
  webhookVersion?: Version;
  /**
   * The name of a gift request's state field in answers and webhooks: by default `status` in 2026-05
   * and `state` in JSON:API, as the seed shows; the other where a published copy of the docs says so.
   */
  stateField?: 'state' | 'status';
  stateFile?: string;
}

export type Version = '2025-09' | '2025-10' | '2026-05';
const VERSIONS: Version[] = ['2025-09', '2025-10', '2026-05'];
const jsonApi = (version: Version) => version !== '2026-05';
const STATES = ['submitted', 'redeemed', 'dispatched', 'delivered'];
const NAME = /^\p{L}{2,255}$/u;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PAGE = 25;

interface StoredCampaign {
  id: string;
  name: string;
  createdAt: number;
}

interface StoredRequest {
  id: string;
  campaignId: string;
  recipient: { first_name: string; last_name: string; email: string | null };
  token: string;
  createdAt: number;
  announced: string;
}

interface State {
  campaigns: StoredCampaign[];
  requests: StoredRequest[];
}

interface Problem {
  code: string;
  message: string;
  param?: string;
}

/**
 * A stateful stand-in for &Open's API in both versions it documents: `2025-09` (JSON:API, the seed's)
 * and `2026-05` (flat JSON), chosen per request by the `AndOpen-API-Version` header: gift requests with
 * their lifecycle, campaigns in both pagination styles, both error shapes, and signed webhooks.
 */
export class AndOpenSandbox {
  readonly http = new SandboxHttpServer((status, code, message) => flatErrors(status, [{ code, message }]));
  readonly webhooks: WebhookSender;
  private readonly clock: SandboxClock;
  private readonly stepMs: number;
  private readonly snapshot: SnapshotFile<State>;
  private readonly state: State;
  private readonly stopTicking: () => void;
  private baseUrl = '';

  constructor(private readonly options: AndOpenSandboxOptions) {
    this.clock = options.clock ?? systemClock;
    this.stepMs = options.stepMs ?? 4_000;
    this.snapshot = new SnapshotFile<State>(options.stateFile);
    this.state = this.snapshot.load() ?? { campaigns: seedCampaigns(options.campaigns ?? 30, this.clock.now()), requests: [] };
    this.webhooks = new WebhookSender(options.webhookUrl);
    this.stopTicking = this.clock.onTick(() => this.announce());
    this.http
      .route('POST', '/gift_requests', (req) => this.guard(req, (v) => this.create(req, v)))
      .route('GET', '/gift_requests/:id', (req) => this.guard(req, (v) => this.read(req, v)))
      .route('GET', '/campaigns', (req) => this.guard(req, (v) => this.campaigns(req, v)))
      .route('GET', '/campaigns/:id', (req) => this.guard(req, (v) => this.campaign(req, v)));
  }

  async listen(port = 0, host?: string): Promise<string> {
    this.baseUrl = await this.http.listen(port, host);
    return this.baseUrl;
  }

  async close(): Promise<void> {
    this.stopTicking();
    await this.webhooks.close();
    await this.http.close();
  }

  /** How many gift requests the sandbox holds: what was really "sent". */
  get giftRequestCount(): number {
    return this.state.requests.length;
  }

  /** The id of the newest gift request to this address: what a person finds in &Open's dashboard. */
  giftRequestIdFor(email: string): string | undefined {
    return this.state.requests.findLast((r) => r.recipient.email === email)?.id;
  }

  /** Sends a webhook for each lifecycle step the clock has passed. */
  announce(): void {
    let changed = false;
    for (const request of this.state.requests) {
      const state = this.stateOf(request);
      if (state === request.announced) continue;
      request.announced = state;
      changed = true;
      this.emit(request, state);
    }
    if (changed) this.snapshot.save(this.state);
  }

  private guard(req: SandboxRequest, next: (version: Version) => SandboxReply): SandboxReply {
    const version = req.headers['andopen-api-version'] as Version | undefined;
    const reply = (() => {
      if (!version || !VERSIONS.includes(version)) {
        return flatReply(400, [{ code: 'unsupported_api_version', message: `AndOpen-API-Version must be one of ${VERSIONS.join(', ')}` }]);
      }
      if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) return errorReply(version, 401, [{ code: 'unauthorized', message: 'invalid API key' }]);
      this.announce();
      return next(version);
    })();
    return { ...reply, headers: { ...reply.headers, 'request-id': `req_${randomBytes(8).toString('hex')}` } };
  }

  private create(req: SandboxRequest, version: Version): SandboxReply {
    const body = (req.body ?? {}) as Record<string, any>;
    let input: { campaign_id?: unknown; first_name?: unknown; last_name?: unknown; email?: unknown };
    if (jsonApi(version)) {
      if (!/application\/vnd\.api\+json/.test(req.headers['content-type'] ?? '')) {
        return errorReply(version, 415, [{ code: 'unsupported_media_type', message: 'Content-Type must be application/vnd.api+json' }]);
      }
      if (body.data?.type !== 'gift_requests')
        return errorReply(version, 422, [{ code: 'parameter_missing', message: 'param is missing or the value is empty or invalid: data.type' }]);
      input = body.data.attributes ?? {};
    } else {
      input = { campaign_id: body.campaign_id, ...(body.recipient ?? {}) };
    }

    const problems: Problem[] = [];
    const paramPrefix = version === '2026-05' ? 'recipient.' : '';
    if (typeof input.campaign_id !== 'string' || !input.campaign_id) {
      problems.push({ code: 'parameter_missing', message: 'param is missing or the value is empty or invalid: campaign_id', param: 'campaign_id' });
    } else if (!this.state.campaigns.some((c) => c.id === input.campaign_id)) {
      problems.push({ code: 'resource_missing', message: 'campaign_id does not exist', param: 'campaign_id' });
    }
    for (const key of ['first_name', 'last_name'] as const) {
      const value = input[key];
      if (typeof value !== 'string' || !NAME.test(value)) {
        problems.push({ code: 'invalid_name', message: `${key} must be 2-255 characters, letters only`, param: `${paramPrefix}${key}` });
      }
    }
    if (input.email !== undefined && input.email !== null && (typeof input.email !== 'string' || !EMAIL.test(input.email))) {
      problems.push({ code: 'invalid_email', message: 'email must be a valid email address', param: `${paramPrefix}email` });
    }
    // 2026-05 reports every validation error at once [doc]; the JSON:API version did too in practice.
    if (problems.length > 0) return errorReply(version, 422, problems);

    const request: StoredRequest = {
      id: randomUUID(),
      campaignId: input.campaign_id as string,
      recipient: { first_name: input.first_name as string, last_name: input.last_name as string, email: (input.email as string | undefined) ?? null },
      token: randomBytes(10).toString('base64url'),
      createdAt: this.clock.now(),
      announced: 'submitted',
    };
    this.state.requests.push(request);
    this.snapshot.save(this.state);
    this.emit(request, 'submitted');
    return { status: 201, body: this.view(request, version) };
  }

  private read(req: SandboxRequest, version: Version): SandboxReply {
    const request = this.state.requests.find((r) => r.id === req.params.id);
    return request ? { status: 200, body: this.view(request, version) } : errorReply(version, 404, [{ code: 'resource_missing', message: 'gift request not found' }]);
  }

  private campaigns(req: SandboxRequest, version: Version): SandboxReply {
    const newestFirst = [...this.state.campaigns].sort((a, b) => b.createdAt - a.createdAt);
    const start = (after: string | null) => (after ? newestFirst.findIndex((c) => c.id === after) + 1 : 0);
    if (version === '2026-05') {
      const limit = req.query.has('limit') ? Number(req.query.get('limit')) : PAGE;
      if (!Number.isInteger(limit) || limit <= 0) return flatReply(400, [{ code: 'invalid_parameter', message: 'limit must be a positive integer', param: 'limit' }]);
      const from = start(req.query.get('after'));
      if (from === 0 && req.query.get('after')) return flatReply(400, [{ code: 'invalid_parameter', message: 'after is not a campaign id', param: 'after' }]);
      const page = newestFirst.slice(from, from + Math.min(limit, PAGE));
      return { status: 200, body: { data: page.map((c) => campaignFlat(c)), has_more: from + page.length < newestFirst.length } };
    }
    const from = start(req.query.get('page[after]'));
    const page = newestFirst.slice(from, from + PAGE);
    const more = from + page.length < newestFirst.length;
    return {
      status: 200,
      body: {
        data: page.map((c) => ({ type: 'campaigns', id: c.id, attributes: { name: c.name, created_at: new Date(c.createdAt).toISOString() } })),
        links: { next: more ? `${this.baseUrl}/campaigns?page[after]=${page.at(-1)!.id}` : null },
        jsonapi: { version: '1.0' },
      },
    };
  }

  private campaign(req: SandboxRequest, version: Version): SandboxReply {
    const c = this.state.campaigns.find((x) => x.id === req.params.id);
    if (!c) return errorReply(version, 404, [{ code: 'resource_missing', message: 'campaign not found' }]);
    return {
      status: 200,
      body: version === '2026-05' ? campaignFlat(c) : { data: { type: 'campaigns', id: c.id, attributes: { name: c.name } }, jsonapi: { version: '1.0' } },
    };
  }

  private stateOf(request: StoredRequest): string {
    const steps = this.stepMs === 0 ? STATES.length : Math.floor((this.clock.now() - request.createdAt) / this.stepMs);
    return STATES[Math.min(steps, STATES.length - 1)]!;
  }

  private flat(request: StoredRequest, state = this.stateOf(request)) {
    return {
      id: request.id,
      [this.options.stateField ?? 'status']: state,
      campaign_id: request.campaignId,
      redemption_url: `https://from.andopen.invalid/r/${request.token}`,
      recipient: request.recipient,
      created_at: new Date(request.createdAt).toISOString(),
      updated_at: new Date(this.clock.now()).toISOString(),
    };
  }

  /** The seed's JSON:API attributes: the redemption link, the state and the times. */
  private view(request: StoredRequest, version: Version, state = this.stateOf(request)) {
    if (!jsonApi(version)) return this.flat(request, state);
    const flat = this.flat(request, state);
    return {
      data: {
        type: 'gift_requests',
        id: request.id,
        attributes: { redemption_url: flat.redemption_url, [this.options.stateField ?? 'state']: state, created_at: flat.created_at, updated_at: flat.updated_at },
      },
    };
  }

  /**
   * One webhook per state a gift request reaches, as each version's page documents it, signed over
   * `"{timestamp}.{body}"` with a dispatch timestamp set fresh on each attempt.
   * 2026-05 (developers.andopen.co/docs/2026-05/webhooks): the body is the resource "in the same
   * shape the API returns", `application/json`, with event id, event type and API version headers.
   * 2025-10 (developers.andopen.co/docs/webhooks): `application/vnd.api+json`, only the signature and
   * timestamp headers, and a payload that "includes the event ID". Where is not published
   * [assume: a JSON:API document of the gift request with `meta.event_id`]. Event type names are not
   * published either [assume: gift_request.<state>], so JSON:API bodies carry none.
   */
  private emit(request: StoredRequest, state: string): void {
    const secret = this.options.webhookSecret;
    if (!secret) return;
    const version = this.options.webhookVersion ?? '2026-05';
    const eventId = randomUUID();
    const body = jsonApi(version) ? JSON.stringify({ ...this.view(request, version, state), meta: { event_id: eventId } }) : JSON.stringify(this.flat(request, state));
    const fixed: Record<string, string> = jsonApi(version)
      ? { 'content-type': 'application/vnd.api+json' }
      : {
          'content-type': 'application/json',
          'andopen-webhook-event-id': eventId,
          'andopen-webhook-event-type': `gift_request.${state}`,
          'andopen-webhook-api-version': version,
        };
    this.webhooks.send({
      body,
      headers: () => {
        // Dispatch time is real time: receivers compare it to their own clock.
        const timestamp = String(Math.floor(Date.now() / 1000));
        const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
        return { ...fixed, 'andopen-webhook-signature': signature, 'andopen-webhook-dispatch-timestamp': timestamp };
      },
    });
  }
}

function seedCampaigns(count: number, now: number): StoredCampaign[] {
  const themes = ['Welcome', 'Work anniversary', 'Holiday', 'Thank you', 'Customer delight', 'Referral', 'Milestone', 'Wellness'];
  return Array.from({ length: count }, (_, i) => ({
    id: randomUUID(),
    name: `${themes[i % themes.length]} ${Math.floor(i / themes.length) + 1}`,
    createdAt: now - (count - i) * 3_600_000,
  }));
}

const campaignFlat = (c: StoredCampaign) => ({ id: c.id, name: c.name, created_at: new Date(c.createdAt).toISOString() });

const flatErrors = (_status: number, problems: Problem[]) => ({
  errors: problems.map((p) => ({ type: 'invalid_request_error', code: p.code, message: p.message, ...(p.param ? { param: p.param } : {}) })),
});

const flatReply = (status: number, problems: Problem[]): SandboxReply => ({ status, body: flatErrors(status, problems) });

/** The seed's JSON:API errors carry a status and a detail, no code or parameter. */
function errorReply(version: Version, status: number, problems: Problem[]): SandboxReply {
  if (version === '2026-05') return flatReply(status, problems);
  return { status, body: { errors: problems.map((p) => ({ status: String(status), detail: p.message })), jsonapi: { version: '1.0' } } };
}
