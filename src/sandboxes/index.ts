import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { SandboxClock } from './kit/clock.js';
import { AndOpenSandbox } from './andopen/sandbox.js';
import { GIFTRONAUT_SANDBOX_SCOPES, GiftronautSandbox } from './giftronaut/sandbox.js';
import { GoodySandbox } from './goody/sandbox.js';
import { GuustoSandbox } from './guusto/sandbox.js';

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
  /** Where giftgraph listens, once it does: the sandboxes post their webhooks to its /webhooks/<provider>. */
  webhookBase?: () => string | undefined;
}

const secret = () => randomBytes(24).toString('base64url');

/**
 * Starts every provider's sandbox on a loopback port with fresh credentials and webhook secrets, and
 * returns how the adapters reach them: over HTTP, exactly as they reach the real providers.
 */
export async function startSandboxes(options: SandboxOptions): Promise<RunningSandboxes> {
  const stateFile = (name: string) => (options.stateDir ? path.join(options.stateDir, `${name}.json`) : undefined);
  const hook = (name: string) => () => {
    const base = options.webhookBase?.();
    return base ? `${base}/webhooks/${name}` : undefined;
  };
  const common = { stepMs: options.stepMs, clock: options.clock };

  const guustoCredentials = { token: secret(), workspaceId: '444' };
  const guusto = new GuustoSandbox({ ...guustoCredentials, ...common, stateFile: stateFile('guusto') });
  const giftronautCredentials = { clientId: 'giftgraph-sandbox', clientSecret: secret(), webhookSecret: secret() };
  const giftronaut = new GiftronautSandbox({ ...giftronautCredentials, ...common, webhookUrl: hook('giftronaut'), stateFile: stateFile('giftronaut') });
  const goodyCredentials = { apiKey: secret(), webhookSecret: `whsec_${randomBytes(24).toString('base64')}` };
  const goody = new GoodySandbox({ ...goodyCredentials, ...common, webhookUrl: hook('goody'), stateFile: stateFile('goody') });
  const andOpenCredentials = { apiKey: `ao-v1-staging-${secret()}`, webhookSecret: secret() };
  const andOpen = new AndOpenSandbox({ ...andOpenCredentials, ...common, webhookUrl: hook('andopen'), stateFile: stateFile('andopen') });

  const [guustoUrl, giftronautUrl, goodyUrl, andOpenUrl] = await Promise.all([guusto.listen(), giftronaut.listen(), goody.listen(), andOpen.listen()]);
  return {
    connections: {
      guusto: { baseUrl: guustoUrl, ...guustoCredentials },
      giftronaut: { baseUrl: giftronautUrl, ...giftronautCredentials, scopes: [...GIFTRONAUT_SANDBOX_SCOPES] },
      goody: { baseUrl: goodyUrl, ...goodyCredentials },
      andOpen: { baseUrl: andOpenUrl, ...andOpenCredentials, version: '2026-05' },
    },
    guusto,
    giftronaut,
    goody,
    andOpen,
    close: async () => {
      await Promise.all([guusto.close(), giftronaut.close(), goody.close(), andOpen.close()]);
    },
  };
}
