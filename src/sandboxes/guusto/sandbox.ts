import { randomBytes, randomUUID } from 'node:crypto';
import { systemClock, type SandboxClock } from '../kit/clock.js';
import { SandboxHttpServer, type SandboxReply, type SandboxRequest } from '../kit/server.js';
import { SnapshotFile } from '../kit/snapshot.js';
import { centsOf, validateOrderBody, type GuustoOrderBody } from './rules.js';

export interface GuustoSandboxOptions {
  token: string;
  workspaceId: string;
  clock?: SandboxClock;
  /** Time each lifecycle step takes: ACCEPTED → PROCESSING_IN_PROGRESS → COMPLETED. */
  stepMs?: number;
  /**
   * Whether `page` counts from 1 (what the official example suggests) or 0. The real base is not
   * published, so tests run the adapter against both.
   */
  pageBase?: 0 | 1;
  /**
   * The order "Find Order" lists an order's certificates in, which is not published: that of the
   * orderItems (default), or reversed, so tests show certificates are not given out by place.
   */
  certificateOrder?: 'items' | 'reversed';
  /**
   * What a certificate's `recipientUser` holds. The documented example shows a number (a user id,
   * the default); `user` gives an object naming the recipient (`{id, email, employeeNumber}`),
   * a form nothing public shows, for tests of matching by who a certificate is for.
   */
  recipientUser?: 'id' | 'user';
  /** Starting workspace balance per currency, in currency units. */
  balances?: Partial<Record<'CAD' | 'USD', number>>;
  /** Where to keep state across restarts; in memory when absent. */
  stateFile?: string;
  workspaceName?: string;
}

interface StoredRequest {
  requestId: string;
  customerRequestId: string | null;
  createdAt: number;
  body: GuustoOrderBody;
  /** Assigned at creation, revealed once the request completes. */
  orderId: number;
  certificateIds: number[];
}

interface State {
  requests: StoredRequest[];
  balances: Record<string, number>;
  nextOrderId: number;
  nextCertificateId: number;
  /** recipientUser ids, by the recipient's identity (email wins over employee number, as documented). */
  users: Record<string, number>;
  /** Random tokens per certificate id, stable across reads. */
  tokens: Record<string, { long: string; short: string }>;
}

const errorShape = (_status: number, code: string, message: string) => ({ code, message });

/**
 * A stateful stand-in for Guusto's public API (`/api/v1`), built from its documentation:
 * place an order, follow its status, find it with its certificates (paginated), and balances.
 */
export class GuustoSandbox {
  readonly http = new SandboxHttpServer(errorShape);
  private readonly clock: SandboxClock;
  private readonly stepMs: number;
  private readonly pageBase: 0 | 1;
  private readonly snapshot: SnapshotFile<State>;
  private readonly state: State;

  constructor(private readonly options: GuustoSandboxOptions) {
    this.clock = options.clock ?? systemClock;
    this.stepMs = options.stepMs ?? 4_000;
    this.pageBase = options.pageBase ?? 1;
    this.snapshot = new SnapshotFile<State>(options.stateFile);
    this.state = this.snapshot.load() ?? {
      requests: [],
      balances: { CAD: options.balances?.CAD ?? 100_000, USD: options.balances?.USD ?? 100_000 },
      nextOrderId: 444_350,
      nextCertificateId: 123_123,
      users: {},
      tokens: {},
    };
    const api = '/api/v1';
    this.http
      .route('POST', `${api}/orders`, (req) => this.authorized(req, () => this.placeOrder(req)))
      .route('GET', `${api}/orders/status/:requestId`, (req) => this.authorized(req, () => this.status(req)))
      .route('GET', `${api}/orders/:requestId`, (req) => this.authorized(req, () => this.findOrder(req)))
      .route('GET', `${api}/balances/workspaces/currencies/:currency`, (req) => this.authorized(req, () => this.workspaceBalance(req)))
      .route('GET', `${api}/balances/members/:employeeNumber/currencies/:currency`, (req) => this.authorized(req, () => this.memberBalance(req)));
  }

  listen(port = 0, host?: string): Promise<string> {
    return this.http.listen(port, host);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** How many orders the sandbox holds: what was really "sent". */
  get orderCount(): number {
    return this.state.requests.length;
  }

  /** The requestId of the request sent with this X-Customer-Request-Id: what a person finds in Guusto's dashboard. */
  requestIdFor(customerRequestId: string): string | undefined {
    return this.state.requests.find((r) => r.customerRequestId === customerRequestId)?.requestId;
  }

  private authorized(req: SandboxRequest, next: () => SandboxReply): SandboxReply {
    if (req.headers.authorization !== `Bearer ${this.options.token}`) {
      return { status: 401, body: errorShape(401, 'security_error', 'missing or invalid API token') };
    }
    // Header names are case-insensitive; Node lower-cases them (the docs spell both X-Workspace-id and X-Workspace-Id).
    if (req.headers['x-workspace-id'] !== this.options.workspaceId) {
      return { status: 401, body: errorShape(401, 'security_error', 'missing or unknown X-Workspace-id') };
    }
    return next();
  }

  private placeOrder(req: SandboxRequest): SandboxReply {
    const problem = validateOrderBody(req.body);
    if (problem) return { status: 400, body: problem };
    const body = req.body as GuustoOrderBody;
    // In cents, so decimal amounts add up without float noise.
    const total = body.orderItems.reduce((sum, item) => sum + centsOf(item.amount)!, 0);
    const balance = centsOf(this.state.balances[body.currency] ?? 0) ?? 0;
    if (total > balance) {
      return { status: 400, body: errorShape(400, 'insufficient_balance', `workspace balance in ${body.currency} does not cover ${total / 100}`) };
    }
    this.state.balances[body.currency] = (balance - total) / 100;
    const customerRequestId = typeof req.headers['x-customer-request-id'] === 'string' ? req.headers['x-customer-request-id'] : null;
    const request: StoredRequest = {
      requestId: randomUUID(),
      customerRequestId,
      createdAt: this.clock.now(),
      body,
      orderId: this.state.nextOrderId++,
      certificateIds: body.orderItems.map(() => this.state.nextCertificateId++),
    };
    this.state.requests.push(request);
    this.snapshot.save(this.state);
    return { status: 201, body: this.statusView(request) };
  }

  private status(req: SandboxRequest): SandboxReply {
    const request = this.find(req.params.requestId!);
    return request ? { status: 200, body: this.statusView(request) } : notFound();
  }

  private findOrder(req: SandboxRequest): SandboxReply {
    const request = this.find(req.params.requestId!);
    if (!request) return notFound();
    const page = req.query.has('page') ? Number(req.query.get('page')) : this.pageBase;
    const size = req.query.has('size') ? Number(req.query.get('size')) : 10;
    if (!Number.isInteger(page) || page < this.pageBase) return { status: 400, body: errorShape(400, 'invalid_field', `page must be at least ${this.pageBase}`) };
    if (!Number.isInteger(size) || size < 1 || size > 100) return { status: 400, body: errorShape(400, 'invalid_field', 'size must be from 1 to 100') };

    const phase = this.phase(request);
    const issued = phase.completed ? request.body.orderItems.map((item, i) => this.certificate(request, i, item)) : [];
    const certificates = this.options.certificateOrder === 'reversed' ? issued.reverse() : issued;
    const start = (page - this.pageBase) * size;
    return {
      status: 200,
      body: {
        page,
        size,
        totalElements: certificates.length,
        totalPages: Math.ceil(certificates.length / size),
        id: phase.completed ? request.orderId : null,
        requestId: request.requestId,
        state: phase.requestStatus,
        status: phase.completed ? 'COMPLETE' : 'PENDING',
        certificates: certificates.slice(start, start + size),
      },
    };
  }

  private workspaceBalance(req: SandboxRequest): SandboxReply {
    const currency = req.params.currency!;
    if (!(currency in this.state.balances)) return { status: 400, body: errorShape(400, 'invalid_field', 'currency must be one of CAD, USD') };
    return { status: 200, body: { balance: this.state.balances[currency] } };
  }

  private memberBalance(req: SandboxRequest): SandboxReply {
    const { employeeNumber, currency } = req.params as { employeeNumber: string; currency: string };
    let cents = 0;
    for (const request of this.state.requests) {
      if (request.body.currency !== currency || !this.phase(request).completed) continue;
      for (const item of request.body.orderItems) {
        if (!item.recipient.email && item.recipient.employeeNumber === employeeNumber) cents += centsOf(item.amount)!;
      }
    }
    return { status: 200, body: { amount: cents / 100, currency } };
  }

  private find(requestId: string): StoredRequest | undefined {
    return this.state.requests.find((r) => r.requestId === requestId);
  }

  private phase(request: StoredRequest): { requestStatus: string; orderStep: string; completed: boolean } {
    const elapsed = this.clock.now() - request.createdAt;
    if (elapsed < this.stepMs) return { requestStatus: 'ACCEPTED', orderStep: 'PENDING', completed: false };
    if (elapsed < 2 * this.stepMs) return { requestStatus: 'PROCESSING_IN_PROGRESS', orderStep: 'PRECHECK_ORDER', completed: false };
    return { requestStatus: 'COMPLETED', orderStep: 'COMPLETED', completed: true };
  }

  private statusView(request: StoredRequest) {
    const phase = this.phase(request);
    return {
      requestId: request.requestId,
      requestStatus: phase.requestStatus,
      orderStep: phase.orderStep,
      orderId: phase.completed ? request.orderId : null,
      customerRequestId: request.customerRequestId,
    };
  }

  private certificate(request: StoredRequest, index: number, item: GuustoOrderBody['orderItems'][number]) {
    const id = request.certificateIds[index]!;
    const identity = item.recipient.email ? `email:${item.recipient.email.toLowerCase()}` : `employee:${item.recipient.employeeNumber}`;
    let user = this.state.users[identity];
    let dirty = false;
    if (user === undefined) {
      user = this.state.users[identity] = Object.keys(this.state.users).length + 2323;
      dirty = true;
    }
    let tokens = this.state.tokens[id];
    if (!tokens) {
      tokens = this.state.tokens[id] = { long: randomBytes(16).toString('base64url'), short: randomBytes(4).toString('hex').toUpperCase().slice(0, 5) };
      dirty = true;
    }
    if (dirty) this.snapshot.save(this.state);
    return {
      id,
      currency: request.body.currency,
      senderName: this.options.workspaceName ?? 'giftgraph sandbox workspace',
      recipientUser:
        this.options.recipientUser === 'user'
          ? { id: user, ...(item.recipient.email ? { email: item.recipient.email } : { employeeNumber: item.recipient.employeeNumber }) }
          : user,
      amount: item.amount,
      message: item.message,
      longToken: tokens.long,
      shortToken: tokens.short,
    };
  }
}

const notFound = (): SandboxReply => ({ status: 404, body: errorShape(404, 'not_found', 'order request not found') });
