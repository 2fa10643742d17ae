import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandboxes } from '../src/sandboxes/index.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { SCOPES, signToken } from '../src/server/auth.js';
import { parsePrometheusText } from './support/prometheus-text.js';
import { inherited, PRINTED_KEYS, type Running, run as start, waitForOutput as waitFor } from './support/cluster.js';

const JWT_SECRET = randomBytes(32).toString('base64url');

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  // Whatever a test left running, failed or not.
  const left = children.filter((c) => c.exitCode === null && c.signalCode === null);
  for (const child of left) child.kill('SIGKILL');
  await Promise.all(left.map((child) => once(child, 'exit')));
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** A project entry point in a process of its own, killed after the tests whatever they left running. */
function run(script: string, args: string[], env: NodeJS.ProcessEnv = inherited()): Running {
  const p = start(script, args, env);
  children.push(p.child);
  return p;
}

/** `npm run sandboxes` with these options: the environment it prints once all four listen (`keys`: the names it prints). */
async function sandboxes(args: string[], keys = PRINTED_KEYS): Promise<{ process: Running; env: Record<string, string> }> {
  const p = run('scripts/sandboxes.ts', args);
  const env = await waitFor(p, () => {
    if (!p.stderr().includes('sandboxes: ready')) return undefined;
    const lines = p.stdout().split('\n').filter(Boolean);
    return lines.length === keys.length && p.stdout().endsWith('\n') ? Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])) : undefined;
  });
  return { process: p, env };
}

/** SIGTERM, then the exit code. */
async function stop(p: Running): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  p.child.kill('SIGTERM');
  const [code] = await once(p.child, 'exit');
  return code as number | null;
}

/** `npm start` with the environment the sandboxes printed, its own ledger, and the JWT secret every replica shares. */
async function replica(env: Record<string, string>, dir: string, name: string): Promise<{ process: Running; url: string }> {
  const p = run('src/main.ts', [], {
    ...inherited(),
    ...env,
    PORT: '0',
    HOST: '127.0.0.1',
    GIFTGRAPH_DB: path.join(dir, `${name}.db`),
    GIFTGRAPH_JWT_SECRET: JWT_SECRET,
  });
  // Building the schema takes seconds, more on a busy machine.
  const url = await waitFor(p, () => /"url":"([^"]+)\/graphql"/.exec(p.stdout())?.[1], 45_000);
  return { process: p, url };
}

const token = () =>
  signToken(
    { secret: new TextEncoder().encode(JWT_SECRET), issuer: 'giftgraph', audience: 'giftgraph' },
    { subject: 'test', tenant: 'default', scope: SCOPES.join(' '), ttlSeconds: 600 },
  );

async function gql(url: string, query: string, variables?: Record<string, unknown>): Promise<{ data?: any; errors?: unknown[] }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token()}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: any; errors?: unknown[] };
}

/** Goody's own list of order batches, as the printed credentials read it: what was really sent. */
async function goodyBatches(env: Record<string, string>): Promise<{ ids: string[]; total: number }> {
  const res = await fetch(`${env.GOODY_BASE_URL}/v1/order_batches?per_page=100`, { headers: { authorization: `Bearer ${env.GOODY_API_KEY}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { data: { id: string }[]; list_meta: { total_count: number } };
  return { ids: body.data.map((b) => b.id), total: body.list_meta.total_count };
}

/** The Goody webhook deliveries a replica received, by result, from its /metrics. */
async function goodyDeliveries(url: string): Promise<Record<string, number>> {
  const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  const samples = families.get('giftgraph_webhook_deliveries_total')?.samples ?? [];
  return Object.fromEntries(samples.filter((s) => s.labels.provider === 'GOODY').map((s) => [s.labels.result!, s.value]));
}

const received = (deliveries: Record<string, number>) => (deliveries.recorded ?? 0) + (deliveries.duplicate ?? 0);

describe('npm run sandboxes', () => {
  it('serves the providers to two giftgraph replicas, sends webhooks to each in turn, and keeps credentials and orders across a restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-sandboxes-'));
    dirs.push(dir);
    const stateDir = path.join(dir, 'state');
    const common = ['--state-dir', stateDir, '--step-ms', '200'];

    // Any free ports first: the printed environment names them. No replica listens yet, so no webhooks,
    // but their secrets are printed: the replicas will receive webhooks after the restart below.
    const first = await sandboxes(['--port-base', '0', '--webhook-secrets', ...common]);
    expect(Object.keys(first.env)).toEqual(PRINTED_KEYS);
    expect(first.process.stderr()).toContain('no webhook targets');
    const ports = ['GUUSTO', 'GIFTRONAUT', 'GOODY', 'ANDOPEN'].map((p) => new URL(first.env[`${p}_BASE_URL`]!).port);
    const samePorts = ['--guusto-port', ports[0]!, '--giftronaut-port', ports[1]!, '--goody-port', ports[2]!, '--andopen-port', ports[3]!];

    // The printed environment is all giftgraph needs besides its own settings: it serves live against the shared sandboxes.
    const [a, b] = await Promise.all([replica(first.env, dir, 'a'), replica(first.env, dir, 'b')]);
    for (const r of [a, b]) {
      expect(r.process.stdout()).toContain('"mode":"live"');
      expect(r.process.stdout()).toContain('"providers":["GUUSTO","GIFTRONAUT","GOODY","ANDOPEN"]');
    }

    // Restarted with the same state, on the same ports, now sending webhooks to both replicas: the same environment.
    expect(await stop(first.process)).toBe(0);
    expect(first.process.stderr()).toContain('sandboxes: stopped');
    const second = await sandboxes([...samePorts, ...common, '--webhooks', `${a.url},${b.url}/`]);
    expect(second.env).toEqual(first.env);

    // One state folder, one sandboxes process.
    const intruder = run('scripts/sandboxes.ts', ['--port-base', '0', '--state-dir', stateDir]);
    const [intruderCode] = await once(intruder.child, 'exit');
    expect(intruderCode).toBe(64);
    expect(intruder.stderr()).toContain('another sandboxes process');

    const catalog = await gql(a.url, '{ catalog(provider: GOODY, first: 50) { edges { node { id kind } } } }');
    const productId = (catalog.data.catalog.edges as { node: { id: string; kind: string } }[]).find((e) => e.node.kind === 'PRODUCT')!.node.id;
    const sent = await gql(
      a.url,
      'mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id status ... on GoodyOrderBatch { goodyBatchId } } problems { code message } } }',
      { input: { provider: 'GOODY', idempotencyKey: 'shared-1', senderName: 'Acme', recipients: [{ email: 'ada@example.com', firstName: 'Ada' }], goody: { productId } } },
    );
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendGifts.problems).toEqual([]);
    const batchId = sent.data.sendGifts.order.goodyBatchId as string;
    expect(batchId).toBeTruthy();
    // Placed once, at the shared sandbox.
    expect(await goodyBatches(first.env)).toEqual({ ids: [batchId], total: 1 });

    // Its webhooks alternate between the replicas: each has received its share, each signature verified.
    await expect
      .poll(
        async () => {
          const [ofA, ofB] = await Promise.all([goodyDeliveries(a.url), goodyDeliveries(b.url)]);
          return received(ofA) >= 3 && received(ofB) >= 3;
        },
        { timeout: 45_000, interval: 100 },
      )
      .toBe(true);
    const [ofA, ofB] = await Promise.all([goodyDeliveries(a.url), goodyDeliveries(b.url)]);
    expect(Math.abs(received(ofA) - received(ofB))).toBeLessThanOrEqual(1);
    expect(ofA.refused ?? 0).toBe(0);
    expect(ofB.refused ?? 0).toBe(0);
    const id = sent.data.sendGifts.order.id as string;
    await expect.poll(async () => (await gql(a.url, `{ order(id: "${id}") { status } }`)).data.order.status, { timeout: 45_000, interval: 100 }).toBe('DELIVERED');

    // Restarted again: the same environment, and the order is still there.
    expect(await stop(second.process)).toBe(0);
    const third = await sandboxes([...samePorts, ...common, '--webhooks', `${a.url},${b.url}`]);
    expect(third.env).toEqual(first.env);
    expect(await goodyBatches(third.env)).toEqual({ ids: [batchId], total: 1 });
    expect((await gql(a.url, `{ order(id: "${id}") { status ... on GoodyOrderBatch { goodyBatchId } } }`)).data.order).toEqual({ status: 'DELIVERED', goodyBatchId: batchId });

    expect(await stop(third.process)).toBe(0);
    expect(await Promise.all([stop(a.process), stop(b.process)])).toEqual([0, 0]);
  }, 150_000);

  it('prints no webhook secret when it sends no webhooks, so giftgraph polls those providers', async () => {
    const polled = await sandboxes(
      ['--port-base', '0', '--in-memory'],
      PRINTED_KEYS.filter((k) => !k.endsWith('_WEBHOOK_SECRET')),
    );
    expect(Object.keys(polled.env)).toEqual(PRINTED_KEYS.filter((k) => !k.endsWith('_WEBHOOK_SECRET')));
    expect(await stop(polled.process)).toBe(0);
  });

  it('refuses options it cannot use, naming them', async () => {
    const p = run('scripts/sandboxes.ts', ['--in-memory', '--webhooks', 'ftp://example.com']);
    const [code] = await once(p.child, 'exit');
    expect(code).toBe(64);
    expect(p.stderr()).toContain('--webhooks takes http(s) base URLs');
    expect(p.stdout()).toBe('');
  });
});

describe('webhooks to several giftgraph replicas', () => {
  it('go to each in turn, and a delivery one of them fails is tried again at the next', async () => {
    const hits: { target: string; id: string; status: number }[] = [];
    const receiver = (target: string, status: number) =>
      http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          hits.push({ target, id: String(req.headers['svix-id']), status });
          res.writeHead(status).end();
        });
      });
    // One replica answers 503 (it is stopping, say); the other takes every delivery.
    const servers = [receiver('stopping', 503), receiver('up', 200)];
    const bases = await Promise.all(
      servers.map(async (server) => {
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      }),
    );
    const running = await startSandboxes({ stepMs: 60_000, clock: new ManualClock(Date.now()), webhookBases: bases });
    try {
      const key = running.connections.goody.apiKey;
      const product = (
        (await (await fetch(`${running.connections.goody.baseUrl}/v1/products`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { id: string }[] }
      ).data[0]!;
      const created = await fetch(`${running.connections.goody.baseUrl}/v1/order_batches`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          from_name: 'Acme',
          send_method: 'email_and_link',
          recipients: [{ first_name: 'Ada', email: 'ada@example.com' }],
          cart: { items: [{ product_id: product.id, quantity: 1 }] },
        }),
      });
      expect(created.status).toBe(201);
      await running.goody.webhooks.settle();

      const log = running.goody.webhooks.log;
      expect(log.length).toBeGreaterThanOrEqual(2);
      expect(log.every((d) => d.delivered)).toBe(true);
      // Both replicas were tried.
      expect(new Set(hits.map((h) => h.target))).toEqual(new Set(['stopping', 'up']));
      // Every delivery reached the replica that is up once, some after failing at the other.
      const delivered = hits.filter((h) => h.status === 200).map((h) => h.id);
      expect(delivered.sort()).toEqual(log.map((d) => d.headers['svix-id']).sort());
      const retried = log.filter((d) => d.attempts > 1).map((d) => d.headers['svix-id']);
      expect(retried.length).toBeGreaterThan(0);
      for (const id of retried) expect(hits.filter((h) => h.id === id).map((h) => h.target)).toContain('stopping');
    } finally {
      await running.close();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });
});
