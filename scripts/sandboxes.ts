/**
 * `npm run sandboxes [-- options]`: the four provider sandboxes as a process of their own, which
 * several giftgraph replicas can share. Once all four listen, it prints on stdout the environment
 * that points giftgraph at them (`KEY=value` lines a shell can source); everything else goes to
 * stderr. With a state folder (the default) their orders, credentials and webhook secrets outlive a
 * restart, so the printed environment stays valid. SIGTERM or SIGINT stops it cleanly. `--help` says more.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_SANDBOX_STEP_MS,
  loadOrCreateSandboxCredentials,
  newSandboxCredentials,
  type RunningSandboxes,
  type SandboxConnections,
  type SandboxName,
  startSandboxes,
} from '../src/sandboxes/index.js';

const DEFAULT_PORT_BASE = 4101;
const DEFAULT_STATE_DIR = path.join('data', 'shared-sandboxes');
/** Requests and webhook deliveries each sandbox remembers, for tests in its own process: a long run stays bounded. */
const RECORD_LIMIT = 1_000;
const NAMES: readonly SandboxName[] = ['guusto', 'giftronaut', 'goody', 'andOpen'];
const FLAG: Record<SandboxName, string> = { guusto: 'guusto', giftronaut: 'giftronaut', goody: 'goody', andOpen: 'andopen' };

const USAGE = `Usage: npm run sandboxes -- [options]

Serves the Guusto, Giftronaut, Goody and &Open sandboxes, then prints the environment that points
giftgraph at them (KEY=value lines on stdout; logs on stderr). Each option can also come from the
environment variable named beside it; a flag wins.

  --port-base <n>          SANDBOX_PORT_BASE     ports n, n+1, n+2, n+3 for Guusto, Giftronaut, Goody, &Open
                                                 (default ${DEFAULT_PORT_BASE}; 0: any free ports, which the printed URLs name)
  --guusto-port <n>        SANDBOX_GUUSTO_PORT   one sandbox's port, instead of the one --port-base gives it
  --giftronaut-port <n>    SANDBOX_GIFTRONAUT_PORT
  --goody-port <n>         SANDBOX_GOODY_PORT
  --andopen-port <n>       SANDBOX_ANDOPEN_PORT
  --host <address>         SANDBOX_HOST          the address they listen on and their URLs name (default 127.0.0.1);
                                                 one the replicas reach, not a wildcard such as 0.0.0.0
  --state-dir <dir>        SANDBOX_STATE_DIR     their orders, credentials and webhook secrets (default ${DEFAULT_STATE_DIR})
  --in-memory                                    no state folder: fresh credentials and no orders at each start
  --webhooks <url>[,<url>...]  SANDBOX_WEBHOOK_URLS  giftgraph base URLs: each webhook delivery attempt goes to the
                                                 next one in turn, at <url>/webhooks/<provider>; none: no webhooks
                                                 are sent, no webhook secret is printed, and giftgraph polls
  --webhook-secrets                              print the webhook secrets even without --webhooks (a giftgraph
                                                 started before a restart that adds targets, or a client that
                                                 signs deliveries itself)
  --step-ms <ms>           SANDBOX_STEP_MS       how long each lifecycle step of a gift takes (default ${DEFAULT_SANDBOX_STEP_MS}, as in npm start)
  --giftronaut-rate-limit <n>  SANDBOX_GIFTRONAUT_RATE_LIMIT  Giftronaut requests per minute, shared by every
                                                 replica as one client's are (default 60, as Giftronaut's sandbox)
  --write-env <path>       SANDBOX_ENV_FILE      also write the printed environment to this file (not --env-file,
                                                 which Node 20 takes as its own option wherever it stands)
  --help                                         this text

giftgraph runs live against them (provider credentials are set), so it needs GIFTGRAPH_JWT_SECRET too:
  npm run -s sandboxes -- --webhooks http://127.0.0.1:4000 --write-env data/sandboxes.env &
  set -a; . data/sandboxes.env; set +a; GIFTGRAPH_JWT_SECRET=<32+ characters> npm start
`;

class UsageError extends Error {}

interface Options {
  ports: Record<SandboxName, number>;
  host: string;
  stateDir?: string;
  webhooks: string[];
  /** Print the webhook secrets although no webhooks are sent. */
  webhookSecrets: boolean;
  stepMs: number;
  giftronautRateLimit?: number;
  envFile?: string;
}

function integer(value: string, what: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be a whole number from ${min} to ${max}, not "${value}"`);
  return n;
}

function readOptions(argv: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'port-base': { type: 'string' },
      'guusto-port': { type: 'string' },
      'giftronaut-port': { type: 'string' },
      'goody-port': { type: 'string' },
      'andopen-port': { type: 'string' },
      host: { type: 'string' },
      'state-dir': { type: 'string' },
      'in-memory': { type: 'boolean' },
      webhooks: { type: 'string' },
      'webhook-secrets': { type: 'boolean' },
      'step-ms': { type: 'string' },
      'giftronaut-rate-limit': { type: 'string' },
      'write-env': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const given = (flag: string, variable: string): string | undefined => {
    const value = (values as Record<string, string | boolean | undefined>)[flag];
    if (typeof value === 'string') return value;
    return env[variable] === undefined || env[variable] === '' ? undefined : env[variable];
  };

  const baseText = given('port-base', 'SANDBOX_PORT_BASE');
  const base = baseText === undefined ? DEFAULT_PORT_BASE : integer(baseText, '--port-base', 0, 65_535 - (NAMES.length - 1));
  const ports = {} as Record<SandboxName, number>;
  NAMES.forEach((name, i) => {
    const own = given(`${FLAG[name]}-port`, `SANDBOX_${FLAG[name].toUpperCase()}_PORT`);
    ports[name] = own === undefined ? (base === 0 ? 0 : base + i) : integer(own, `--${FLAG[name]}-port`, 0, 65_535);
  });

  const host = given('host', 'SANDBOX_HOST') ?? '127.0.0.1';
  if (['0.0.0.0', '::', '[::]'].includes(host)) throw new UsageError(`--host names the address giftgraph reaches the sandboxes at: give one, not the wildcard ${host}`);

  const stateText = given('state-dir', 'SANDBOX_STATE_DIR');
  if (values['in-memory'] && typeof values['state-dir'] === 'string') throw new UsageError('--in-memory and --state-dir exclude each other');
  const stateDir = values['in-memory'] ? undefined : path.resolve(stateText ?? DEFAULT_STATE_DIR);

  const webhooks = (given('webhooks', 'SANDBOX_WEBHOOK_URLS') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((text) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw new UsageError(`--webhooks takes giftgraph base URLs such as http://127.0.0.1:4000, not "${text}"`);
      }
      if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash) {
        throw new UsageError(`--webhooks takes http(s) base URLs without a query, not "${text}"`);
      }
      return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
    });

  const stepText = given('step-ms', 'SANDBOX_STEP_MS');
  const stepMs = stepText === undefined ? DEFAULT_SANDBOX_STEP_MS : integer(stepText, '--step-ms', 0, 3_600_000);
  const limitText = given('giftronaut-rate-limit', 'SANDBOX_GIFTRONAUT_RATE_LIMIT');
  const giftronautRateLimit = limitText === undefined ? undefined : integer(limitText, '--giftronaut-rate-limit', 1, 1_000_000);
  const envFile = given('write-env', 'SANDBOX_ENV_FILE');
  const webhookSecrets = webhooks.length > 0 || values['webhook-secrets'] === true;
  return { ports, host, stateDir, webhooks, webhookSecrets, stepMs, giftronautRateLimit, envFile: envFile === undefined ? undefined : path.resolve(envFile) };
}

/**
 * The variables giftgraph's configuration reads for each provider (src/config.ts and
 * src/providers/<name>/config.ts). A webhook secret tells giftgraph that provider's webhooks reach
 * it, so it polls that provider's orders only as a safety net: it is printed only when they do.
 */
function giftgraphEnvironment(c: SandboxConnections, webhookSecrets: boolean): [string, string][] {
  const lines: [string, string][] = [
    ['GUUSTO_BASE_URL', c.guusto.baseUrl],
    ['GUUSTO_API_TOKEN', c.guusto.token],
    ['GUUSTO_WORKSPACE_ID', c.guusto.workspaceId],
    ['GIFTRONAUT_BASE_URL', c.giftronaut.baseUrl],
    ['GIFTRONAUT_CLIENT_ID', c.giftronaut.clientId],
    ['GIFTRONAUT_CLIENT_SECRET', c.giftronaut.clientSecret],
    ['GIFTRONAUT_WEBHOOK_SECRET', c.giftronaut.webhookSecret],
    ['GOODY_BASE_URL', c.goody.baseUrl],
    ['GOODY_API_KEY', c.goody.apiKey],
    ['GOODY_WEBHOOK_SECRET', c.goody.webhookSecret],
    ['ANDOPEN_BASE_URL', c.andOpen.baseUrl],
    ['ANDOPEN_API_KEY', c.andOpen.apiKey],
    // The version the sandbox signs and shapes its webhooks in.
    ['ANDOPEN_API_VERSION', c.andOpen.version],
    ['ANDOPEN_WEBHOOK_SECRET', c.andOpen.webhookSecret],
  ];
  return webhookSecrets ? lines : lines.filter(([key]) => !key.endsWith('_WEBHOOK_SECRET'));
}

/** `KEY=value`, quoted for a shell only where a character needs it. */
const line = ([key, value]: [string, string]) => `${key}=${/^[A-Za-z0-9_.,:/+=@%-]*$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`}`;

const log = (message: string) => process.stderr.write(`sandboxes: ${message}\n`);

/** One sandboxes process per state folder: two would overwrite each other's files. */
function lockStateDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sandboxes.pid');
  for (;;) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && isRunning(pid)) throw new UsageError(`another sandboxes process (pid ${pid}) uses ${dir}: stop it, or give another --state-dir`);
    // Left by a process that did not stop cleanly.
    fs.rmSync(file, { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function writeAtomically(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, text, { mode: 0o600 });
  fs.renameSync(temp, file);
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2), process.env);
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const unlock = options.stateDir ? lockStateDir(options.stateDir) : () => undefined;
  let running: RunningSandboxes;
  try {
    running = await startSandboxes({
      stepMs: options.stepMs,
      stateDir: options.stateDir,
      credentials: options.stateDir ? loadOrCreateSandboxCredentials(options.stateDir) : newSandboxCredentials(),
      ports: options.ports,
      host: options.host,
      webhookBases: options.webhooks,
      recordLimit: RECORD_LIMIT,
      giftronautRateLimitPerMinute: options.giftronautRateLimit,
    });
  } catch (error) {
    unlock();
    const e = error as NodeJS.ErrnoException & { port?: number };
    if (e.code === 'EADDRINUSE' || e.code === 'EACCES' || e.code === 'EADDRNOTAVAIL') {
      throw new UsageError(
        `cannot listen on ${options.host}${e.port === undefined ? '' : `:${e.port}`} (${e.code}): choose other ports with --port-base or --<provider>-port (0 for any free port), or another --host`,
      );
    }
    throw error;
  }

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log(`${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    log(`${signal}: stopping`);
    // Closing stops the clocks and waits for the deliveries under way; the state files are written as state changes.
    await running.close();
    unlock();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', (signal) => void stop(signal));
  process.on('SIGINT', (signal) => void stop(signal));

  const text = `${giftgraphEnvironment(running.connections, options.webhookSecrets).map(line).join('\n')}\n`;
  if (options.envFile) writeAtomically(options.envFile, text);
  process.stdout.write(text);
  const c = running.connections;
  log(`Guusto ${c.guusto.baseUrl}, Giftronaut ${c.giftronaut.baseUrl}, Goody ${c.goody.baseUrl}, &Open ${c.andOpen.baseUrl}`);
  log(`${options.stateDir ? `state and credentials in ${options.stateDir}` : 'state in memory, credentials new'}; each lifecycle step takes ${options.stepMs} ms`);
  log(
    options.webhooks.length > 0 ? `webhooks go to ${options.webhooks.map((url) => `${url}/webhooks/<provider>`).join(', then ')}, in turn` : 'no webhook targets: giftgraph polls',
  );
  if (options.envFile) log(`environment written to ${options.envFile}`);
  log('ready');
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    process.stderr.write(`sandboxes: ${(error as Error).message}\n(npm run sandboxes -- --help lists the options)\n`);
    process.exit(64);
  }
  process.stderr.write(`sandboxes failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
