import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEEP_ALIVE_MS } from '../src/server/connections.js';
import { Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

/** One request on a keep-alive agent's socket: its status and whether the socket was reused. */
const get = (agent: http.Agent, path: string): Promise<{ status: number; reused: boolean }> =>
  new Promise((resolve, reject) => {
    const req = http.get(`${h.url}${path}`, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  });

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
  it('stay open longer than the Apollo Router keeps its own (15 s), so a reused one works', async () => {
    expect(DEFAULT_KEEP_ALIVE_MS).toBeGreaterThan(60_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(agent, '/healthz')).toEqual({ status: 200, reused: false });
      await new Promise((r) => setTimeout(r, 16_000));
      expect(await get(agent, '/healthz')).toEqual({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  }, 30_000);
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
});
