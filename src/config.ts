import path from 'node:path';
import { z } from 'zod';
import { readGiftronautEnv, type GiftronautConnection } from './providers/giftronaut/config.js';
import { readAndOpenEnv, type AndOpenConnection } from './providers/andopen/config.js';
import { readGoodyEnv, type GoodyConnection } from './providers/goody/config.js';
import { readGuustoEnv, type GuustoConnection } from './providers/guusto/config.js';
import type { ProviderLimits } from './providers/guard.js';
import { DEFAULT_KEEP_ALIVE_MS } from './server/connections.js';

export type Mode = 'sandbox' | 'live';

export interface Config {
  mode: Mode;
  host: string;
  port: number;
  dbPath: string;
  /** A PostgreSQL ledger that several replicas share; the SQLite file at `dbPath` when absent. */
  databaseUrl?: string;
  /** The PostgreSQL schema holding the ledger (`public` unless set). */
  databaseSchema?: string;
  logLevel: string;
  /** Tenant that owns work not placed by a tenant (sandbox demo tokens, provider-side orders). */
  defaultTenant: string;
  /** Owners of provider accounts other than the default tenant. */
  accountTenants: { GIFTRONAUT?: string; GOODY?: string };
  jwt: {
    /** HS256 key. Undefined in sandbox mode, where a local development secret is used. */
    secret?: Uint8Array;
    issuer: string;
    audience: string;
  };
  providerTimeoutMs: number;
  /** Each provider's concurrency cap and rate, where set; the registry's defaults otherwise. */
  providerLimits: Partial<Pick<ProviderLimits, 'concurrency' | 'perSecond'>>;
  /** How long an idle keep-alive connection stays open: longer than any gateway in front keeps one. */
  keepAliveTimeoutMs: number;
  /** The bearer token `/metrics` asks for; open when undefined. */
  metricsToken?: string;
  sandbox: {
    /** How long each lifecycle step of a sandbox gift takes, in real milliseconds. */
    stepMs: number;
  };
  /** Live credentials by provider; empty in sandbox mode. */
  live: {
    guusto?: GuustoConnection;
    giftronaut?: GiftronautConnection;
    goody?: GoodyConnection;
    andOpen?: AndOpenConnection;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const tenant = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1..64 letters, digits, dot, dash or underscore');

const base = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).optional(),
  GIFTGRAPH_MODE: z.enum(['sandbox', 'live']).optional(),
  GIFTGRAPH_DB: z.string().min(1).default('./data/giftgraph.db'),
  // The URL may hold a password: the message never repeats it.
  GIFTGRAPH_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  GIFTGRAPH_DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a plain lower-case PostgreSQL identifier')
    .optional(),
  GIFTGRAPH_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GIFTGRAPH_DEFAULT_TENANT: tenant.default('default'),
  // The tenant that owns each listing provider's account, and so the orders placed in its own app.
  GIFTRONAUT_ACCOUNT_TENANT: tenant.optional(),
  GOODY_ACCOUNT_TENANT: tenant.optional(),
  GIFTGRAPH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  GIFTGRAPH_JWT_ISSUER: z.string().min(1).default('giftgraph'),
  GIFTGRAPH_JWT_AUDIENCE: z.string().min(1).default('giftgraph'),
  GIFTGRAPH_PROVIDER_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  // Per provider, shared by everything that calls it; unset means the registry's defaults (8 and 20).
  GIFTGRAPH_PROVIDER_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).optional(),
  GIFTGRAPH_PROVIDER_RATE_PER_SECOND: z.coerce.number().int().min(1).max(10_000).optional(),
  GIFTGRAPH_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(DEFAULT_KEEP_ALIVE_MS),
  GIFTGRAPH_SANDBOX_STEP_MS: z.coerce.number().int().min(0).max(3_600_000).default(4_000),
  // Sent as `Authorization: Bearer <token>`, so only characters a header carries unquoted.
  GIFTGRAPH_METRICS_TOKEN: z
    .string()
    .regex(/^[A-Za-z0-9._~+/=-]{16,512}$/, 'must be 16..512 characters: letters, digits and . _ ~ + / = -')
    .optional(),
});

/** Reads and validates the whole configuration at once, so a wrong start names every problem. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const parsed = base.safeParse(env);
  if (!parsed.success) {
    problems.push(...parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`));
  }
  const guusto = readGuustoEnv(env);
  const giftronaut = readGiftronautEnv(env);
  const goody = readGoodyEnv(env);
  const andOpen = readAndOpenEnv(env);
  problems.push(...guusto.problems, ...giftronaut.problems, ...goody.problems, ...andOpen.problems);
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);

  const e = parsed.data;
  const hasCredentials = [guusto, giftronaut, goody, andOpen].some((p) => p.connection !== undefined);
  const mode: Mode = e.GIFTGRAPH_MODE ?? (hasCredentials ? 'live' : 'sandbox');
  if (mode === 'live') {
    if (!hasCredentials) {
      problems.push(
        'GIFTGRAPH_MODE=live needs credentials for at least one provider (GUUSTO_API_TOKEN and GUUSTO_WORKSPACE_ID, GIFTRONAUT_CLIENT_ID and GIFTRONAUT_CLIENT_SECRET, GOODY_API_KEY, or ANDOPEN_API_KEY)',
      );
    }
    if (!e.GIFTGRAPH_JWT_SECRET) problems.push('GIFTGRAPH_JWT_SECRET is required in live mode');
  }
  if (mode === 'sandbox' && hasCredentials) {
    problems.push('GIFTGRAPH_MODE=sandbox was set together with provider credentials: unset one of them, live never mixes with sandboxes');
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    mode,
    host: e.HOST ?? (mode === 'live' ? '0.0.0.0' : '127.0.0.1'),
    port: e.PORT,
    dbPath: path.resolve(e.GIFTGRAPH_DB),
    databaseUrl: e.GIFTGRAPH_DATABASE_URL,
    databaseSchema: e.GIFTGRAPH_DATABASE_SCHEMA,
    logLevel: e.GIFTGRAPH_LOG_LEVEL,
    defaultTenant: e.GIFTGRAPH_DEFAULT_TENANT,
    accountTenants: { GIFTRONAUT: e.GIFTRONAUT_ACCOUNT_TENANT, GOODY: e.GOODY_ACCOUNT_TENANT },
    jwt: {
      secret: e.GIFTGRAPH_JWT_SECRET ? new TextEncoder().encode(e.GIFTGRAPH_JWT_SECRET) : undefined,
      issuer: e.GIFTGRAPH_JWT_ISSUER,
      audience: e.GIFTGRAPH_JWT_AUDIENCE,
    },
    providerTimeoutMs: e.GIFTGRAPH_PROVIDER_TIMEOUT_MS,
    providerLimits: { concurrency: e.GIFTGRAPH_PROVIDER_CONCURRENCY, perSecond: e.GIFTGRAPH_PROVIDER_RATE_PER_SECOND },
    keepAliveTimeoutMs: e.GIFTGRAPH_KEEP_ALIVE_TIMEOUT_MS,
    metricsToken: e.GIFTGRAPH_METRICS_TOKEN,
    sandbox: { stepMs: e.GIFTGRAPH_SANDBOX_STEP_MS },
    live: mode === 'live' ? { guusto: guusto.connection, giftronaut: giftronaut.connection, goody: goody.connection, andOpen: andOpen.connection } : {},
  };
}
