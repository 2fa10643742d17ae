import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ProviderConnections } from '../providers/index.js';
import type { SandboxClock } from './kit/clock.js';
import { GuustoSandbox } from './guusto/sandbox.js';

export interface RunningSandboxes {
  connections: ProviderConnections;
  guusto: GuustoSandbox;
  close(): Promise<void>;
}

export interface SandboxOptions {
  stepMs: number;
  /** Folder for the sandboxes' state files; in memory when absent. */
  stateDir?: string;
  clock?: SandboxClock;
}

/**
 * Starts every provider's sandbox on a loopback port with fresh credentials, and returns how the
 * adapters reach them: over HTTP, exactly as they reach the real providers.
 */
export async function startSandboxes(options: SandboxOptions): Promise<RunningSandboxes> {
  const guustoCredentials = { token: randomBytes(24).toString('base64url'), workspaceId: '444' };
  const guusto = new GuustoSandbox({
    ...guustoCredentials,
    stepMs: options.stepMs,
    clock: options.clock,
    stateFile: options.stateDir ? path.join(options.stateDir, 'guusto.json') : undefined,
  });
  const guustoUrl = await guusto.listen();
  return {
    connections: { guusto: { baseUrl: guustoUrl, ...guustoCredentials } },
    guusto,
    close: () => guusto.close(),
  };
}
