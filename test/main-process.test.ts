import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';

/** `npm start` as a person runs it: the real entry point in its own process, not in vitest's. */
function start(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const { NODE_ENV: _testEnv, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: path.resolve(import.meta.dirname, '..'),
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (chunk) => (text += chunk));
  child.stderr!.on('data', (chunk) => (text += chunk));
  return { child, output: () => text };
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

describe('npm start', () => {
  it('serves the embedded default against the sandboxes, a gift reaches SENT, and SIGTERM stops it cleanly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-main-'));
    const { child, output } = start({ PORT: '0', GIFTGRAPH_DB: path.join(dir, 'giftgraph.db'), GIFTGRAPH_SANDBOX_STEP_MS: '150' });
    children.push(child);
    // The banner is written directly and the line naming the URL through the logger: either may come first.
    await expect.poll(() => /Send a gift:[\s\S]*-d '/.test(output()) && /"url":"[^"]+\/graphql"/.test(output()), { timeout: 15_000 }).toBe(true);

    const url = /"url":"([^"]+)\/graphql"/.exec(output())![1]!;
    const token = /every scope[^\n]*\n(\S+)/.exec(output())![1]!;
    const call = async (query: string) => {
      const res = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query }),
      });
      return (await res.json()) as { data: any; errors?: unknown };
    };
    // The exact request the banner prints.
    const printed = /-d '(.+)'\s*$/m.exec(output())![1]!;
    const sent = await call((JSON.parse(printed) as { query: string }).query);
    expect(sent.errors).toBeUndefined();
    const id = sent.data.sendGifts.order!.id as string;
    await expect.poll(async () => (await call(`{ order(id: "${id}") { status } }`)).data.order.status, { timeout: 5_000, interval: 100 }).toBe('SENT');

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output()).toContain('"msg":"stopped"');
    expect(output()).not.toContain('ada@example.com"');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start on a wrong configuration, naming it', async () => {
    const { child, output } = start({ PORT: 'eighty', GIFTGRAPH_MODE: 'live' });
    children.push(child);
    const [code] = await once(child, 'exit');
    expect(code).toBe(78);
    expect(output()).toMatch(/Invalid configuration:[\s\S]*PORT/);
  });
});
