import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { buildRegistry } from '../src/providers/index.js';
import { DEFAULT_KEEP_ALIVE_MS } from '../src/server/connections.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

/** Writes raw bytes on a new connection and collects everything the server sends until it closes. */
const raw = (bytes: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const { port } = new URL(h.url);
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('the server kept the connection open')));
  });

describe('idle keep-alive connections', () => {
  it('stay open by default longer than the Apollo Router keeps its own (15 s) and load balancers theirs (60 s)', () => {
    expect(DEFAULT_KEEP_ALIVE_MS).toBeGreaterThan(60_000);
    const server = (h.app.server as unknown as { http: http.Server }).http;
    expect(server.keepAliveTimeout).toBe(DEFAULT_KEEP_ALIVE_MS);
    // Node closes a connection whose headers take longer than this: it must outlast the keep-alive.
    expect(server.headersTimeout).toBeGreaterThan(DEFAULT_KEEP_ALIVE_MS);
  });

  describe('with the keep-alive a deployment gives', () => {
    let app: App;
    let url: string;
    let dir: string;
    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-keep-alive-'));
      app = await createApp({
        store: SqliteStore.open(path.join(dir, 'giftgraph.db')),
        providers: buildRegistry({}, 'SANDBOX', 1_000),
        jwt: { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' },
        log: pino({ level: 'silent' }),
        keepAliveTimeoutMs: 100,
      });
      url = await app.listen(0, '127.0.0.1');
    });
    afterAll(async () => {
      await app.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('serve requests on one connection while it is open, and the server closes it once it has been idle that long', async () => {
      const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
      await once(socket, 'connect');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('latin1')));
      const answered = (n: number) => expect.poll(() => received.match(/HTTP\/1\.1 200 /g)?.length ?? 0, { interval: 5 }).toBe(n);
      try {
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        await answered(1);
        socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'); // the same connection, kept alive
        await answered(2);
        expect(received).not.toMatch(/\r\nConnection: close\r\n/i);
        // Left idle, the server ends it: this client never would.
        await once(socket, 'end');
      } finally {
        socket.destroy();
      }
    });
  });
});

describe('a request refused before its body is read', () => {
  // What a client smuggles after the headers of an oversized request must never run as a request.
  const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';

  it('gets 413 on /graphql, and the connection closes without reading the rest', async () => {
    const answer = await raw(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n${smuggled}`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  it('gets 413 on a webhook, and the connection closes without reading the rest', async () => {
    const answer = await raw(`POST /webhooks/goody HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${1024 * 1024}\r\n\r\n${smuggled}`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  it('gets 413 when a chunked body grows past the limit, and the connection closes', async () => {
    const chunk = 'x'.repeat(64 * 1024);
    const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const answer = await raw(`POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n${smuggled}`);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer.match(/HTTP\/1\.1 /g)).toHaveLength(1);
  });

  it('rejects a body over 1 MiB with 413', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ providers { name } } # ${'x'.repeat(1024 * 1024)}` }),
    });
    expect(res.status).toBe(413);
  });
});
