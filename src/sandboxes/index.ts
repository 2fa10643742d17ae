import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { GIFTRONAUT_SCOPES } from '../providers/giftronaut/config.js';
import type { ProviderConnections } from '../providers/index.js';
import type { SandboxClock } from './kit/clock.js';
import { GiftronautSandbox } from './giftronaut/sandbox.js';
import { AndOpenSandbox } from './andopen/sandbox.js';
import { GoodySandbox } from './goody/sandbox.js';
import { GuustoSandbox } from './guusto/sandbox.js';

export interface RunningSandboxes {
  connections: ProviderConnections;
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
}

const secret = () => randomBytes(24).toString('base64url');

/**
 * Starts every provider's sandbox on a loopback port with fresh credentials, and returns how the
 * adapters reach them: over HTTP, exactly as they reach the real providers.
 */
export async function startSandboxes(options: SandboxOptions): Promise<RunningSandboxes> {
  const stateFile = (name: string) => (options.stateDir ? path.join(options.stateDir, `${name}.json`) : undefined);
  const guustoCredentials = { token: secret(), workspaceId: '444' };
  const guusto = new GuustoSandbox({ ...guustoCredentials, stepMs: options.stepMs, clock: options.clock, stateFile: stateFile('guusto') });
  const giftronautCredentials = { clientId: 'giftgraph-sandbox', clientSecret: secret() };
  const giftronaut = new GiftronautSandbox({ ...giftronautCredentials, stepMs: options.stepMs, clock: options.clock, stateFile: stateFile('giftronaut') });
  const goodyKey = secret();
  const goody = new GoodySandbox({ apiKey: goodyKey, stepMs: options.stepMs, clock: options.clock, stateFile: stateFile('goody') });
  const andOpenKey = `ao-v1-staging-${secret()}`;
  const andOpen = new AndOpenSandbox({ apiKey: andOpenKey, stepMs: options.stepMs, clock: options.clock, stateFile: stateFile('andopen') });
  const [guustoUrl, giftronautUrl, goodyUrl, andOpenUrl] = await Promise.all([guusto.listen(), giftronaut.listen(), goody.listen(), andOpen.listen()]);
  return {
    connections: {
      guusto: { baseUrl: guustoUrl, ...guustoCredentials },
      giftronaut: { baseUrl: giftronautUrl, ...giftronautCredentials, scopes: GIFTRONAUT_SCOPES },
      goody: { baseUrl: goodyUrl, apiKey: goodyKey },
      andOpen: { baseUrl: andOpenUrl, apiKey: andOpenKey, version: '2026-05' },
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
