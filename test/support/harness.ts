import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type DocumentNode } from 'graphql';
import pino from 'pino';
import { type App, type AppOptions, createApp } from '../../src/app.js';
import { LOG_REDACT_PATHS } from '../../src/core/redact.js';
import type { Provider } from '../../src/core/model.js';
import type { GuardOptions } from '../../src/providers/guard.js';
import { buildRegistry, type ProviderConnections } from '../../src/providers/index.js';
import type { ProviderRegistry } from '../../src/providers/registry.js';
import type { PollerOptions } from '../../src/status/poller.js';
import { ManualClock } from '../../src/sandboxes/kit/clock.js';
import { GiftronautSandbox, type GiftronautSandboxOptions } from '../../src/sandboxes/giftronaut/sandbox.js';
import { GoodySandbox, type GoodySandboxOptions } from '../../src/sandboxes/goody/sandbox.js';
import { AndOpenSandbox, type AndOpenSandboxOptions } from '../../src/sandboxes/andopen/sandbox.js';
import type { AndOpenVersion } from '../../src/providers/andopen/config.js';
import { GuustoSandbox, type GuustoSandboxOptions } from '../../src/sandboxes/guusto/sandbox.js';
import { SCOPES, signToken, type JwtSettings } from '../../src/server/auth.js';
import { SqliteStore } from '../../src/store/sqlite.js';

export const STEP_MS = 60_000;

export interface GraphQLResult<R> {
  data?: R | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
}

export interface HarnessOptions {
  guusto?: Partial<GuustoSandboxOptions>;
  giftronaut?: Partial<GiftronautSandboxOptions>;
  goody?: Partial<GoodySandboxOptions>;
  andOpen?: Partial<AndOpenSandboxOptions>;
  /** Serve only these providers (all sandboxes still run); every provider by default. */
  only?: Provider[];
  /** The sandboxes post signed webhooks to the server under test. */
  webhooks?: boolean;
  /** Poll open orders in the background. */
  polling?: PollerOptions;
  /** The &Open API version the adapter speaks; the current one by default. */
  andOpenVersion?: AndOpenVersion;
  /** Scopes the Giftronaut adapter asks for; all of them by default. */
  giftronautScopes?: string[];
  /** Provider call timeout; short so timeout tests stay quick. */
  providerTimeoutMs?: number;
  /** giftgraph reads the sandboxes' clock too, so orders sent through it and at a provider share one timeline. */
  sharedClock?: boolean;
  /** The tenant owning the provider accounts (and the orders placed in their own apps); `default` unless given. */
  accountTenant?: string;
  /**
   * The providers' limiters and circuit breakers, and the circuits' clock. The default concurrency
   * cap, but no rate limit (tests send to a hundred &Open recipients, one request each, and the
   * sandboxes answer in a millisecond), and circuits that never open unless a test sets
   * `failureThreshold`: many tests fail provider calls on purpose, one after another.
   */
  guarding?: GuardOptions;
  /**
   * How long a read of a moving order from its provider serves later reads; 0 unless given, so a
   * test that moves a sandbox sees the change on its next read (concurrent reads still share one call).
   */
  freshnessMs?: number;
  /** The webhook inbox's options (a long gathering window holds a burst for one read). */
  inbox?: AppOptions['inbox'];
  /** Send held sends at their time in the background; off unless given (`app.scheduler.sendDue()` sends those due now). */
  scheduling?: AppOptions['scheduling'];
}

/**
 * Everything a test needs, started for real: the Guusto sandbox on an ephemeral loopback port with
 * a manual clock, a SQLite ledger in a temp folder, and giftgraph serving HTTP and WebSocket.
 */
export class Harness {
  /** Starts at the real time, so the sandboxes and giftgraph agree on "now" until a test moves it. */
  readonly clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  readonly logs: string[] = [];
  readonly guustoToken = randomBytes(24).toString('base64url');
  readonly giftronautSecret = randomBytes(24).toString('base64url');
  readonly goodyKey = randomBytes(24).toString('base64url');
  readonly andOpenKey = `ao-v1-staging-${randomBytes(24).toString('base64url')}`;
  readonly webhookSecrets = {
    giftronaut: randomBytes(24).toString('base64url'),
    goody: `whsec_${randomBytes(24).toString('base64')}`,
    andOpen: randomBytes(24).toString('base64url'),
  };
  private options: HarnessOptions = {};
  private connections!: ProviderConnections;
  readonly jwt: JwtSettings = { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' };
  guusto!: GuustoSandbox;
  giftronaut!: GiftronautSandbox;
  goody!: GoodySandbox;
  andOpen!: AndOpenSandbox;
  store!: SqliteStore;
  providers!: ProviderRegistry;
  app!: App;
  url = '';
  dir = '';
  /** Where each sandbox listens, for tests that speak to a provider directly. */
  urls = { guusto: '', giftronaut: '', goody: '', andOpen: '' };

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const h = new Harness();
    await h.boot(options);
    return h;
  }

  private async boot(options: HarnessOptions): Promise<void> {
    this.options = options;
    const hook = (name: string) => (options.webhooks ? { webhookUrl: () => (this.url ? `${this.url}/webhooks/${name}` : undefined) } : {});
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-test-'));
    this.guusto = new GuustoSandbox({ token: this.guustoToken, workspaceId: '444', clock: this.clock, stepMs: STEP_MS, ...options.guusto });
    this.giftronaut = new GiftronautSandbox({
      clientId: 'test-client',
      clientSecret: this.giftronautSecret,
      clock: this.clock,
      stepMs: STEP_MS,
      rateLimitPerMinute: 100_000,
      ...hook('giftronaut'),
      webhookSecret: this.webhookSecrets.giftronaut,
      ...options.giftronaut,
    });
    this.goody = new GoodySandbox({ apiKey: this.goodyKey, clock: this.clock, stepMs: STEP_MS, ...hook('goody'), webhookSecret: this.webhookSecrets.goody, ...options.goody });
    this.andOpen = new AndOpenSandbox({
      apiKey: this.andOpenKey,
      clock: this.clock,
      stepMs: STEP_MS,
      ...hook('andopen'),
      webhookSecret: this.webhookSecrets.andOpen,
      ...options.andOpen,
    });
    const [guustoUrl, giftronautUrl, goodyUrl, andOpenUrl] = await Promise.all([this.guusto.listen(), this.giftronaut.listen(), this.goody.listen(), this.andOpen.listen()]);
    this.urls = { guusto: guustoUrl, giftronaut: giftronautUrl, goody: goodyUrl, andOpen: andOpenUrl };
    const connections: ProviderConnections = {
      guusto: { baseUrl: guustoUrl, token: this.guustoToken, workspaceId: '444' },
      giftronaut: {
        baseUrl: giftronautUrl,
        clientId: 'test-client',
        clientSecret: this.giftronautSecret,
        scopes: options.giftronautScopes ?? ['orders.read', 'orders.write', 'orders.cancel', 'catalog.read'],
        ...(options.webhooks ? { webhookSecret: this.webhookSecrets.giftronaut } : {}),
      },
      goody: { baseUrl: goodyUrl, apiKey: this.goodyKey, ...(options.webhooks ? { webhookSecret: this.webhookSecrets.goody } : {}) },
      andOpen: {
        baseUrl: andOpenUrl,
        apiKey: this.andOpenKey,
        version: options.andOpenVersion ?? '2026-05',
        ...(options.webhooks ? { webhookSecret: this.webhookSecrets.andOpen } : {}),
      },
    };
    this.connections = connections;
    await this.startApp();
  }

  /**
   * Stops giftgraph (the sandboxes keep running) and starts it again on the same ledger, as a
   * restart would; `changed` is configuration that differs after the restart, and `whileStopped`
   * runs while giftgraph is down (time passing, say).
   */
  async restart(changed: Pick<HarnessOptions, 'accountTenant'> = {}, whileStopped?: () => void): Promise<void> {
    await this.app.stop();
    this.url = '';
    whileStopped?.();
    this.options = { ...this.options, ...changed };
    await this.startApp();
  }

  private async startApp(): Promise<void> {
    const options = this.options;
    const connections = this.connections;
    this.store = SqliteStore.open(path.join(this.dir, 'giftgraph.db'));
    const served = (name: keyof ProviderConnections, provider: Provider) => (!options.only || options.only.includes(provider) ? connections[name] : undefined);
    const providers = (this.providers = buildRegistry(
      {
        guusto: served('guusto', 'GUUSTO') as ProviderConnections['guusto'],
        giftronaut: served('giftronaut', 'GIFTRONAUT') as ProviderConnections['giftronaut'],
        goody: served('goody', 'GOODY') as ProviderConnections['goody'],
        andOpen: served('andOpen', 'ANDOPEN') as ProviderConnections['andOpen'],
      },
      'SANDBOX',
      options.providerTimeoutMs ?? 2_000,
      { defaultTenant: options.accountTenant },
      undefined,
      { ...options.guarding, limits: { perSecond: Number.POSITIVE_INFINITY, failureThreshold: Number.POSITIVE_INFINITY, ...options.guarding?.limits } },
    ));
    const logs = this.logs;
    const sink = new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    });
    const log = pino({ level: 'debug', redact: { paths: LOG_REDACT_PATHS, censor: '[redacted]' } }, sink);
    this.app = await createApp({
      store: this.store,
      providers,
      jwt: this.jwt,
      log,
      polling: options.polling ?? false,
      scheduling: options.scheduling ?? false,
      clock: options.sharedClock ? () => new Date(this.clock.now()) : undefined,
      freshnessMs: options.freshnessMs ?? 0,
      inbox: options.inbox,
    });
    this.url = await this.app.listen(0, '127.0.0.1');
  }

  token(claims: { tenant?: string; scope?: string; ttlSeconds?: number; subject?: string } = {}): Promise<string> {
    return signToken(this.jwt, {
      subject: claims.subject ?? 'test-user',
      tenant: claims.tenant ?? 'acme',
      scope: claims.scope ?? SCOPES.join(' '),
      ttlSeconds: claims.ttlSeconds ?? 600,
    });
  }

  /** Runs an operation over HTTP as a client would. `token: null` sends no Authorization header. */
  async gql<R, V>(document: TypedDocumentNode<R, V> | DocumentNode | string, variables?: V, token?: string | null): Promise<GraphQLResult<R>> {
    const bearer = token === undefined ? await this.token() : token;
    const res = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body: JSON.stringify({ query: typeof document === 'string' ? document : print(document), variables }),
    });
    return (await res.json()) as GraphQLResult<R>;
  }

  /** Moves the sandboxes' clock forward by a number of lifecycle steps. */
  advance(steps = 1): void {
    this.clock.advance(steps * STEP_MS);
  }

  async close(): Promise<void> {
    await this.app.stop();
    await Promise.all([this.guusto.close(), this.giftronaut.close(), this.goody.close(), this.andOpen.close()]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The first error's code, or undefined. */
export const errorCode = (result: GraphQLResult<unknown>): unknown => result.errors?.[0]?.extensions?.code;

/** A problem as a mutation's payload (or a catalog page) returns it. */
export interface ProblemShape {
  code: string;
  field?: string | null;
  message: string;
  retryable?: boolean | null;
  provider?: string | null;
  providerCode?: string | null;
  retryAfter?: string | null;
  retryBefore?: string | null;
}

/** The problems of the first payload in `data` that has any (`data.sendGifts.problems`, ...); [] when none. */
export function problemsOf(result: GraphQLResult<unknown>): ProblemShape[] {
  const data = (result.data ?? {}) as Record<string, { problems?: ProblemShape[] } | null>;
  for (const payload of Object.values(data)) if (payload?.problems?.length) return payload.problems;
  return [];
}

/** The first problem's code in a payload of `data`, or undefined. */
export const problemCode = (result: GraphQLResult<unknown>): string | undefined => problemsOf(result)[0]?.code;

/** The first problem in a payload of `data`; fails the test when there is none. */
export function problemOf(result: GraphQLResult<unknown>): ProblemShape {
  const [first] = problemsOf(result);
  if (!first) throw new Error(`no problem in ${JSON.stringify(result)}`);
  return first;
}
