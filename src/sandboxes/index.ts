import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SandboxClock } from './kit/clock.js';
import { AndOpenSandbox } from './andopen/sandbox.js';
import { GIFTRONAUT_SANDBOX_SCOPES, GiftronautSandbox } from './giftronaut/sandbox.js';
import { GoodySandbox } from './goody/sandbox.js';
import { GuustoSandbox } from './guusto/sandbox.js';

/** How long each lifecycle step of a sandbox gift takes unless told: what `npm start` uses too. */
export const DEFAULT_SANDBOX_STEP_MS = 4_000;

/**
 * How to reach each sandbox, in the shape giftgraph's provider connections take (the sandboxes
 * import nothing of giftgraph's: the two meet over HTTP, and here over this plain data).
 */
export interface SandboxConnections {
  guusto: { baseUrl: string; token: string; workspaceId: string };
  giftronaut: { baseUrl: string; clientId: string; clientSecret: string; webhookSecret: string; scopes: string[] };
  goody: { baseUrl: string; apiKey: string; webhookSecret: string };
  andOpen: { baseUrl: string; apiKey: string; webhookSecret: string; version: '2026-05' };
}

/** Each sandbox's credentials and webhook signing secret: fresh for each start, or kept in a state folder. */
export interface SandboxCredentials {
  guusto: { token: string; workspaceId: string };
  giftronaut: { clientId: string; clientSecret: string; webhookSecret: string };
  goody: { apiKey: string; webhookSecret: string };
  andOpen: { apiKey: string; webhookSecret: string };
}

export type SandboxName = 'guusto' | 'giftronaut' | 'goody' | 'andOpen';

export interface RunningSandboxes {
  connections: SandboxConnections;
  guusto: GuustoSandbox;
  giftronaut: GiftronautSandbox;
  goody: GoodySandbox;
  andOpen: AndOpenSandbox;
  close(): Promise<void>;
}

export interface SandboxOptions {
  stepMs: number;
  /** Folder for the sandboxes' state files; in memory when absent. */
  stateDir?: string;
  clock?: SandboxClock;
  /** Fresh ones unless given (`loadOrCreateSandboxCredentials` keeps them across restarts). */
  credentials?: SandboxCredentials;
  /** Where each sandbox listens; any free port for those not given. */
  ports?: Partial<Record<SandboxName, number>>;
  /** The address they listen on and their base URLs name; loopback unless given. */
  host?: string;
  /** Where giftgraph listens, once it does: the sandboxes post their webhooks to its /webhooks/<provider>. */
  webhookBase?: () => string | undefined;
  /**
   * Several giftgraph base URLs instead of `webhookBase`: each sandbox posts each delivery attempt
   * to the next one in turn, so a retry of a delivery one of them failed goes to another.
   */
  webhookBases?: readonly string[];
  /** How many requests and webhook deliveries each sandbox remembers for tests; all unless given. */
  recordLimit?: number;
  /** Giftronaut's requests per rolling minute for its one client; 60, as Giftronaut's sandbox documents, unless given. */
  giftronautRateLimitPerMinute?: number;
}

const secret = () => randomBytes(24).toString('base64url');

/** New credentials and webhook secrets for every sandbox, each in the form its provider issues. */
export function newSandboxCredentials(): SandboxCredentials {
  return {
    guusto: { token: secret(), workspaceId: '444' },
    giftronaut: { clientId: 'giftgraph-sandbox', clientSecret: secret(), webhookSecret: secret() },
    goody: { apiKey: secret(), webhookSecret: `whsec_${randomBytes(24).toString('base64')}` },
    andOpen: { apiKey: `ao-v1-staging-${secret()}`, webhookSecret: secret() },
  };
}

/**
 * The credentials kept in `<stateDir>/credentials.json`, made and saved (readable by the owner
 * only) the first time: so a restart of the sandboxes keeps every giftgraph configured for them valid.
 */
export function loadOrCreateSandboxCredentials(stateDir: string): SandboxCredentials {
  const file = path.join(stateDir, 'credentials.json');
  if (fs.existsSync(file)) {
    const kept = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<SandboxCredentials>;
    if (kept.guusto && kept.giftronaut && kept.goody && kept.andOpen) return kept as SandboxCredentials;
    throw new Error(`${file} does not hold the four sandboxes' credentials: remove it to make new ones`);
  }
  const credentials = newSandboxCredentials();
  fs.mkdirSync(stateDir, { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temp, file);
  return credentials;
}

/**
 * Starts every provider's sandbox with its credentials and webhook secret, and returns how the
 * adapters reach them: over HTTP, exactly as they reach the real providers.
 */
export async function startSandboxes(options: SandboxOptions): Promise<RunningSandboxes> {
  const stateFile = (name: string) => (options.stateDir ? path.join(options.stateDir, `${name}.json`) : undefined);
  const hook = (name: string): (() => string | undefined) => {
    const bases = options.webhookBases ?? [];
    if (bases.length > 0) {
      // Per sandbox, so each provider's deliveries alternate whatever the others send.
      let next = 0;
      return () => `${bases[next++ % bases.length]}/webhooks/${name}`;
    }
    return () => {
      const base = options.webhookBase?.();
      return base ? `${base}/webhooks/${name}` : undefined;
    };
  };
  const common = { stepMs: options.stepMs, clock: options.clock };
  const credentials = options.credentials ?? newSandboxCredentials();

  const guusto = new GuustoSandbox({ ...credentials.guusto, ...common, stateFile: stateFile('guusto') });
  const giftronaut = new GiftronautSandbox({
    ...credentials.giftronaut,
    ...common,
    rateLimitPerMinute: options.giftronautRateLimitPerMinute,
    webhookUrl: hook('giftronaut'),
    stateFile: stateFile('giftronaut'),
  });
  const goody = new GoodySandbox({ ...credentials.goody, ...common, webhookUrl: hook('goody'), stateFile: stateFile('goody') });
  const andOpen = new AndOpenSandbox({ ...credentials.andOpen, ...common, webhookUrl: hook('andopen'), stateFile: stateFile('andopen') });
  const close = async () => {
    await Promise.all([guusto.close(), giftronaut.close(), goody.close(), andOpen.close()]);
  };
  if (options.recordLimit !== undefined) {
    for (const sandbox of [guusto, giftronaut, goody, andOpen]) sandbox.http.recordLimit = options.recordLimit;
    for (const sandbox of [giftronaut, goody, andOpen]) sandbox.webhooks.recordLimit = options.recordLimit;
  }

  const ports = options.ports ?? {};
  const listening = await Promise.allSettled([
    guusto.listen(ports.guusto, options.host),
    giftronaut.listen(ports.giftronaut, options.host),
    goody.listen(ports.goody, options.host),
    andOpen.listen(ports.andOpen, options.host),
  ]);
  const failed = listening.find((result) => result.status === 'rejected');
  if (failed) {
    // One port taken: the others, and every sandbox's clock, stop too.
    await Promise.allSettled([guusto.close(), giftronaut.close(), goody.close(), andOpen.close()]);
    throw failed.reason;
  }
  const [guustoUrl, giftronautUrl, goodyUrl, andOpenUrl] = listening.map((result) => (result as PromiseFulfilledResult<string>).value) as [string, string, string, string];
  return {
    connections: {
      guusto: { baseUrl: guustoUrl, ...credentials.guusto },
      giftronaut: { baseUrl: giftronautUrl, ...credentials.giftronaut, scopes: [...GIFTRONAUT_SANDBOX_SCOPES] },
      goody: { baseUrl: goodyUrl, ...credentials.goody },
      andOpen: { baseUrl: andOpenUrl, ...credentials.andOpen, version: '2026-05' },
    },
    guusto,
    giftronaut,
    goody,
    andOpen,
    close,
  };
}
