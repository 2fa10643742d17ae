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
  stateFile?: string;
}

type Version = '2025-09' | '2026-05';
const VERSIONS: Version[] = ['2025-09', '2026-05'];
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

  async listen(port = 0): Promise<string> {
    this.baseUrl = await this.http.listen(port);
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

  /** Sends a webhook for each lifecycle step the clock has passed. */
  announce(): void {
    let changed = false;
    for (const request of this.state.requests) {
      const state = this.stateOf(request);
      if (state === request.announced) continue;
      request.announced = state;
      changed = true;
      this.emit(`gift_request.${state}`, this.flat(request));
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
    if (version === '2025-09') {
      if (!/application\/vnd\.api\+json/.test(req.headers['content-type'] ?? '')) {
        return errorReply(version, 415, [{ code: 'unsupported_media_type', message: 'Content-Type must be application/vnd.api+json' }]);
      }
      if (body.data?.type !== 'gift_requests') return errorReply(version, 422, [{ code: 'parameter_missing', message: 'param is missing or the value is empty or invalid: data.type' }]);
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
    this.emit('gift_request.submitted', this.flat(request));
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

  private flat(request: StoredRequest) {
    return {
      id: request.id,
      status: this.stateOf(request),
      campaign_id: request.campaignId,
      redemption_url: `https://from.andopen.invalid/r/${request.token}`,
      recipient: request.recipient,
      created_at: new Date(request.createdAt).toISOString(),
      updated_at: new Date(this.clock.now()).toISOString(),
    };
  }

  private view(request: StoredRequest, version: Version) {
    const flat = this.flat(request);
    if (version === '2026-05') return flat;
    return {
      data: {
        type: 'gift_requests',
        id: flat.id,
        attributes: { redemption_url: flat.redemption_url, state: flat.status, created_at: flat.created_at, updated_at: flat.updated_at },
      },
    };
  }

  private emit(eventType: string, data: unknown): void {
    const secret = this.options.webhookSecret;
    if (!secret) return;
    const eventId = `evt_${randomBytes(10).toString('hex')}`;
    const body = JSON.stringify({ id: eventId, type: eventType, data });
    // Dispatch time is real time: receivers compare it to their own clock.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    this.webhooks.send({
      body,
      headers: {
        'andopen-webhook-signature': signature,
        'andopen-webhook-dispatch-timestamp': timestamp,
        'andopen-webhook-event-id': eventId,
        'andopen-webhook-event-type': eventType,
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
