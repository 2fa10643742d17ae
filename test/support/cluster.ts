/**
 * Several giftgraph replicas as separate processes on one PostgreSQL ledger, in front of the four
 * provider sandboxes in a process of their own (`npm run sandboxes`): all of it over real HTTP and
 * WebSocket, as it runs in production. Shared by test/replicas.test.ts and bench/replicas.ts, so it
 * imports nothing of vitest.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Client, createClient } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import { CursorCodec } from '../../src/pagination/cursor.js';
import { SCOPES, signToken } from '../../src/server/auth.js';
import { type TestSchema, testSchema } from './postgres.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** What `npm run sandboxes` prints: the environment that points giftgraph at them. */
export const PRINTED_KEYS = [
  'GUUSTO_BASE_URL',
  'GUUSTO_API_TOKEN',
  'GUUSTO_WORKSPACE_ID',
  'GIFTRONAUT_BASE_URL',
  'GIFTRONAUT_CLIENT_ID',
  'GIFTRONAUT_CLIENT_SECRET',
  'GIFTRONAUT_WEBHOOK_SECRET',
  'GOODY_BASE_URL',
  'GOODY_API_KEY',
  'GOODY_WEBHOOK_SECRET',
  'ANDOPEN_BASE_URL',
  'ANDOPEN_API_KEY',
  'ANDOPEN_API_VERSION',
  'ANDOPEN_WEBHOOK_SECRET',
];

/** A project entry point running in a child process, with its output kept. */
export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has ended, with its exit code or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** This process's environment, without what would configure a child otherwise (a developer's provider credentials, say). */
export function inherited(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key === 'NODE_ENV' || /^(SANDBOX|GIFTGRAPH|GUUSTO|GIFTRONAUT|GOODY|ANDOPEN)_/.test(key)) delete env[key];
  return env;
}

/** A TypeScript entry point of the project in a process of its own, as `npm run` starts it. */
export function run(script: string, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

const alive = (p: Running) => p.child.exitCode === null && p.child.signalCode === null;

/** Resolves once `done` holds of the output, on the output event that makes it hold; fails when the process ends first, or after `timeoutMs`. */
export function waitForOutput<T>(p: Running, done: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = done();
      if (value === undefined) return;
      clear();
      resolve(value);
    };
    const ended = (code: number | null) => {
      clear();
      reject(new Error(`the process ended (${code}) first:\n${tail(p.stdout())}\n${tail(p.stderr())}`));
    };
    const timer = setTimeout(() => {
      clear();
      reject(new Error(`not seen in ${timeoutMs} ms:\n${tail(p.stdout())}\n${tail(p.stderr())}`));
    }, timeoutMs);
    const clear = () => {
      clearTimeout(timer);
      p.child.stdout!.off('data', check);
      p.child.stderr!.off('data', check);
      p.child.off('exit', ended);
    };
    p.child.stdout!.on('data', check);
    p.child.stderr!.on('data', check);
    p.child.on('exit', ended);
    check();
  });
}

const tail = (text: string, chars = 4_000) => (text.length > chars ? `…${text.slice(-chars)}` : text);

/** `n` distinct ports free now: each listened on at once (so none repeats), then released. */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface ClusterOptions {
  /** How many giftgraph replicas (3 unless given). */
  replicas?: number;
  /** How long each lifecycle step of a sandbox gift takes (`--step-ms`). */
  stepMs?: number;
  /** Whether the sandboxes post their webhooks to the replicas, each delivery to the next in turn (true unless given). */
  webhooks?: boolean;
  /** Giftronaut's requests per minute, shared by every replica (its sandbox's 60 unless given). */
  giftronautRateLimit?: number;
  /** `GIFTGRAPH_LOG_LEVEL` of each replica; `info` unless given (its "serving" line is how a start is seen). */
  logLevel?: 'info' | 'debug';
  /** More environment for every replica. */
  env?: Record<string, string>;
}

export interface GraphQLResult {
  status: number;
  data?: any;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/**
 * The sandboxes process and N giftgraph replicas on one fresh PostgreSQL schema. The replicas'
 * ports are chosen before anything starts, so the sandboxes are told every webhook target up
 * front, and a replica restarted later comes back on its own port.
 */
export class Cluster {
  readonly replicas: (Running | undefined)[];
  /** When each replica's current process was spawned, and when it was serving. */
  private readonly lifetimes: { spawned: number; serving: number }[] = [];
  /** Every process this cluster started, alive or not: `close()` ends those still running. */
  private readonly started: Running[] = [];
  private readonly codec: CursorCodec;
  private readonly tokens = new Map<string, Promise<string>>();

  private constructor(
    readonly ports: number[],
    readonly schema: TestSchema,
    readonly dir: string,
    readonly secret: string,
    readonly sandboxes: Running,
    readonly sandboxEnv: Record<string, string>,
    private readonly replicaEnv: Record<string, string>,
  ) {
    this.replicas = ports.map(() => undefined);
    this.codec = CursorCodec.derivedFrom(new TextEncoder().encode(secret));
    this.started.push(sandboxes);
  }

  /**
   * Starts the sandboxes, then every replica at once. Whatever fails on the way, what was started
   * is ended and the schema dropped before the error is thrown.
   */
  static async start(options: ClusterOptions = {}): Promise<Cluster> {
    const count = options.replicas ?? 3;
    const ports = await freePorts(count);
    const schema = await testSchema();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-cluster-'));
    const secret = randomBytes(32).toString('base64url');
    const args = ['--port-base', '0', '--in-memory', '--step-ms', String(options.stepMs ?? 300)];
    // Without deliveries of their own, the secrets are still printed: the caller signs and posts webhooks itself.
    if (options.webhooks !== false) args.push('--webhooks', ports.map((p) => `http://127.0.0.1:${p}`).join(','));
    else args.push('--webhook-secrets');
    if (options.giftronautRateLimit) args.push('--giftronaut-rate-limit', String(options.giftronautRateLimit));
    const sandboxes = run('scripts/sandboxes.ts', args, inherited());
    let cluster: Cluster | undefined;
    try {
      const sandboxEnv = await waitForOutput(sandboxes, () => {
        if (!sandboxes.stderr().includes('sandboxes: ready')) return undefined;
        const lines = sandboxes.stdout().split('\n').filter(Boolean);
        if (lines.length !== PRINTED_KEYS.length) return undefined;
        // `KEY=value`, the value single-quoted for a shell where a character needs it.
        const unquoted = (v: string) => (v.startsWith("'") && v.endsWith("'") ? v.slice(1, -1).replaceAll(`'\\''`, "'") : v);
        return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), unquoted(l.slice(l.indexOf('=') + 1))]));
      });
      cluster = new Cluster(ports, schema, dir, secret, sandboxes, sandboxEnv, {
        ...sandboxEnv,
        HOST: '127.0.0.1',
        GIFTGRAPH_DATABASE_URL: schema.url,
        GIFTGRAPH_DATABASE_SCHEMA: schema.schema,
        GIFTGRAPH_JWT_SECRET: secret,
        GIFTGRAPH_LOG_LEVEL: options.logLevel ?? 'info',
        ...options.env,
      });
      await Promise.all(ports.map((_, i) => cluster!.startReplica(i)));
      return cluster;
    } catch (error) {
      if (cluster) await cluster.close();
      else {
        sandboxes.child.kill('SIGKILL');
        await sandboxes.exited;
        await schema.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
      throw error;
    }
  }

  /** Replica i's base URL (without `/graphql`), whether it runs now or not. */
  url(i: number): string {
    return `http://127.0.0.1:${this.ports[i]}`;
  }

  /** Starts replica i on its port; resolves once it serves (its "giftgraph is serving" line). */
  async startReplica(i: number): Promise<void> {
    if (this.replicas[i] && alive(this.replicas[i]!)) throw new Error(`replica ${i + 1} runs already`);
    const p = run('src/main.ts', [], {
      ...inherited(),
      ...this.replicaEnv,
      PORT: String(this.ports[i]),
      // Unused with PostgreSQL but for the folder it names: one of this cluster's own.
      GIFTGRAPH_DB: path.join(this.dir, `replica-${i + 1}`, 'giftgraph.db'),
    });
    this.replicas[i] = p;
    this.started.push(p);
    const spawned = Date.now();
    // Building the schema takes seconds, more on a busy machine and with three starting at once.
    await waitForOutput(p, () => (p.stdout().includes('"msg":"giftgraph is serving"') ? true : undefined), 60_000);
    this.lifetimes[i] = { spawned, serving: Date.now() };
  }

  /**
   * The id replica i's process goes by in the ledger (its heartbeat's row, the owner of the polls
   * it leases): the one replica whose row was first written while that process was starting.
   * Undefined when another replica started at the same time, so the rows cannot tell them apart.
   */
  async replicaId(i: number): Promise<string | undefined> {
    const rows = await this.sql<{ id: string; started_at: string }>('SELECT id, started_at FROM replicas');
    const startedIn = (n: number) => rows.filter((r) => Date.parse(r.started_at) >= this.lifetimes[n]!.spawned && Date.parse(r.started_at) <= this.lifetimes[n]!.serving);
    const mine = startedIn(i);
    const overlapping = this.lifetimes.some((other, n) => n !== i && other.spawned <= this.lifetimes[i]!.serving && other.serving >= this.lifetimes[i]!.spawned);
    return mine.length === 1 && !overlapping ? mine[0]!.id : undefined;
  }

  /** SIGTERM to replica i; resolves with its exit code once it has ended. */
  async stopReplica(i: number): Promise<number | null> {
    const p = this.replicas[i];
    if (!p) return null;
    if (alive(p)) p.child.kill('SIGTERM');
    return (await p.exited).code;
  }

  /** SIGKILL to replica i: no goodbye, its heartbeat simply stops. Resolves once it is gone. */
  async killReplica(i: number): Promise<void> {
    const p = this.replicas[i];
    if (!p) return;
    if (alive(p)) p.child.kill('SIGKILL');
    await p.exited;
  }

  /** SIGSTOP to replica i: it does nothing more (its requests, polls and heartbeats stand still) until `resumeReplica` or a kill. */
  pauseReplica(i: number): void {
    this.replicas[i]?.child.kill('SIGSTOP');
  }

  /** SIGCONT to replica i, after `pauseReplica`. */
  resumeReplica(i: number): void {
    this.replicas[i]?.child.kill('SIGCONT');
  }

  isRunning(i: number): boolean {
    const p = this.replicas[i];
    return p !== undefined && alive(p);
  }

  /** A token of `tenant` with every client scope (and `orders:admin` when asked), signed with the secret every replica shares. */
  token(tenant = 'default', admin = false): Promise<string> {
    const key = `${tenant}\0${admin}`;
    let token = this.tokens.get(key);
    if (!token) {
      token = signToken(
        { secret: new TextEncoder().encode(this.secret), issuer: 'giftgraph', audience: 'giftgraph' },
        { subject: 'cluster-test', tenant, scope: [...SCOPES, ...(admin ? ['orders:admin'] : [])].join(' '), ttlSeconds: 3_600 },
      );
      this.tokens.set(key, token);
    }
    return token;
  }

  /**
   * One GraphQL request to replica i over HTTP. A connection that is refused or cut throws (as
   * fetch does); any answer, a 503 of a stopping replica included, is returned with its status.
   */
  async gql(i: number, query: string, variables?: Record<string, unknown>, tenant = 'default'): Promise<GraphQLResult> {
    const res = await fetch(`${this.url(i)}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.token(tenant)}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let body: Omit<GraphQLResult, 'status'>;
    try {
      body = JSON.parse(text) as Omit<GraphQLResult, 'status'>;
    } catch {
      body = { errors: [{ message: `not JSON (${res.status}): ${text.slice(0, 200)}` }] };
    }
    return { status: res.status, ...body };
  }

  /** A graphql-ws client on replica i's `/ws`, with `tenant`'s token; it never reconnects by itself. */
  async wsClient(i: number, tenant = 'default', onClosed?: (code: number | undefined) => void): Promise<Client> {
    const token = await this.token(tenant);
    return createClient({
      url: `${this.url(i).replace(/^http/, 'ws')}/ws`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: true,
      on: { closed: (event) => onClosed?.((event as { code?: number }).code) },
    });
  }

  /** The event log position an event cursor of `tenant` holds (after checking it is genuine). */
  position(cursor: string, tenant = 'default'): number {
    return this.codec.forTenant(tenant).eventSeq(cursor, 'cursor');
  }

  /** Goody's own list of order batches, every page, as the printed credentials read it: what was really sent to Goody. */
  async goodyBatches(): Promise<{ id: string; customer_reference_id: string | null }[]> {
    const all: { id: string; customer_reference_id: string | null }[] = [];
    for (let page = 1; ; page++) {
      const res = await fetch(`${this.sandboxEnv.GOODY_BASE_URL}/v1/order_batches?per_page=100&page=${page}`, {
        headers: { authorization: `Bearer ${this.sandboxEnv.GOODY_API_KEY}` },
      });
      if (res.status !== 200) throw new Error(`Goody's list answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { data: { id: string; customer_reference_id: string | null }[]; list_meta: { total_count: number } };
      all.push(...body.data);
      if (body.data.length < 100) {
        if (all.length !== body.list_meta.total_count) throw new Error(`Goody listed ${all.length} batches of ${body.list_meta.total_count}`);
        return all;
      }
    }
  }

  /** Giftronaut's own list of orders, every page, with the printed credentials: what was really sent to Giftronaut. */
  async giftronautOrders(): Promise<{ orderId: string; recipients: { email: string }[] }[]> {
    const base = this.sandboxEnv.GIFTRONAUT_BASE_URL;
    const auth = await fetch(`${base}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.sandboxEnv.GIFTRONAUT_CLIENT_ID!,
        client_secret: this.sandboxEnv.GIFTRONAUT_CLIENT_SECRET!,
        scope: 'orders.read',
      }),
    });
    if (auth.status !== 200) throw new Error(`Giftronaut's token endpoint answered ${auth.status}: ${await auth.text()}`);
    const { access_token: token } = (await auth.json()) as { access_token: string };
    const all: { orderId: string; recipients: { email: string }[] }[] = [];
    for (let page = 1; ; page++) {
      const res = await fetch(`${base}/api/v1/orders?pageSize=100&page=${page}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`Giftronaut's list answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { data: { orderId: string; recipients: { email: string }[] }[]; totalCount: number };
      all.push(...body.data);
      if (body.data.length < 100) {
        if (all.length !== body.totalCount) throw new Error(`Giftronaut listed ${all.length} orders of ${body.totalCount}`);
        return all;
      }
    }
  }

  /** Whether Guusto holds a request with this id (Guusto lists nothing: it can only be looked up). */
  async guustoHas(requestId: string): Promise<boolean> {
    const res = await fetch(`${this.sandboxEnv.GUUSTO_BASE_URL}/api/v1/orders/status/${encodeURIComponent(requestId)}`, {
      headers: { authorization: `Bearer ${this.sandboxEnv.GUUSTO_API_TOKEN}`, 'x-workspace-id': this.sandboxEnv.GUUSTO_WORKSPACE_ID! },
    });
    await res.arrayBuffer();
    if (res.status !== 200 && res.status !== 404) throw new Error(`Guusto's lookup answered ${res.status}`);
    return res.status === 200;
  }

  /** A query on the ledger itself, in this cluster's schema: for what no API shows (poll leases, replicas' heartbeats, sends in flight). */
  async sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.schema.url, options: `-c search_path=${this.schema.schema}` });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Every process's output, for a failure's message. */
  logs(): string {
    const named = [['sandboxes', this.sandboxes] as const, ...this.started.slice(1).map((p, i) => [`replica process ${i + 1} (pid ${p.child.pid})`, p] as const)];
    return named.map(([name, p]) => `--- ${name}\n${tail(p.stdout(), 3_000)}\n${tail(p.stderr(), 3_000)}`).join('\n');
  }

  /** Ends every process still running (SIGKILL: nothing of theirs is kept), drops the schema and removes the folder. */
  async close(): Promise<void> {
    const left = this.started.filter(alive);
    for (const p of left) p.child.kill('SIGKILL');
    await Promise.all(left.map((p) => p.exited));
    await this.schema.drop().catch(() => undefined);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
