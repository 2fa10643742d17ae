import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../src/core/model.js';
import type { WebhookSender } from '../src/sandboxes/kit/webhooks.js';
import { CatalogDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ webhooks: true });
});
afterAll(() => h.close());

/** Headers that sign `body` correctly, as each provider signs its deliveries. */
const signed: Record<string, (body: string) => Record<string, string>> = {
  goody: (body) => {
    const id = `msg_${randomUUID()}`;
    const at = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(h.webhookSecrets.goody.slice('whsec_'.length), 'base64');
    return { 'svix-id': id, 'svix-timestamp': at, 'svix-signature': `v1,${createHmac('sha256', key).update(`${id}.${at}.${body}`).digest('base64')}` };
  },
  andopen: (body) => {
    const at = String(Math.floor(Date.now() / 1000));
    return { 'andopen-webhook-dispatch-timestamp': at, 'andopen-webhook-signature': createHmac('sha256', h.webhookSecrets.andOpen).update(`${at}.${body}`).digest('hex') };
  },
  giftronaut: (body) => ({ 'x-giftronaut-signature': `sha256=${createHmac('sha256', h.webhookSecrets.giftronaut).update(body).digest('hex')}` }),
};

const post = (provider: string, body: string, headers: Record<string, string>) =>
  fetch(`${h.url}/webhooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe.each(Object.keys(signed))('a %s delivery', (provider) => {
  it('signed correctly but not JSON is refused as malformed (400), not as forged', async () => {
    const body = 'this is not json';
    const events = h.store.counts().statusEvents;
    const refused = await post(provider, body, signed[provider]!(body));
    expect(refused.status).toBe(400);
    expect(h.store.counts().statusEvents).toBe(events);
  });

  it('whose signature does not match is refused as forged (401)', async () => {
    const body = JSON.stringify({ hello: 'world' });
    const forged = await post(provider, body, signed[provider]!(`${body} `));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({ error: 'bad signature' });
  });
});

describe('a Giftronaut endpoint registration challenge', () => {
  it('is answered with its token through the real route, before any signature is asked for', async () => {
    const answer = await post('giftronaut', JSON.stringify({ challengeToken: 'tok_3f9a' }), {});
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ challengeToken: 'tok_3f9a' });
  });

  it('signed wrongly is refused as forged', async () => {
    const answer = await post('giftronaut', JSON.stringify({ challengeToken: 'tok_3f9a' }), { 'x-giftronaut-signature': `sha256=${'0'.repeat(64)}` });
    expect(answer.status).toBe(401);
  });
});

/** Posts a delivery to `to`, then waits for its inbox to read the orders it named. */
async function deliver(to: Harness, provider: string, body: string, headers: Record<string, string>): Promise<Response> {
  const res = await fetch(`${to.url}/webhooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await to.app.inbox.idle();
  return res;
}

describe('a delivery for no provider we take webhooks from, or of an event we do not know', () => {
  it('says Guusto sends none, and accepts but ignores an unknown event type', async () => {
    expect((await deliver(h, 'guusto', '{}', {})).status).toBe(404);
    expect((await deliver(h, 'acme', '{}', {})).status).toBe(404);
    const body = JSON.stringify({ eventId: 'evt-1', eventType: 'order.teleported', createdAt: new Date().toISOString(), data: {} });
    const signature = `sha256=${createHmac('sha256', h.webhookSecrets.giftronaut).update(body).digest('hex')}`;
    const unknown = await deliver(h, 'giftronaut', body, { 'x-giftronaut-signature': signature });
    expect(unknown.status).toBe(202);
    const huge = await deliver(h, 'giftronaut', 'x'.repeat(300 * 1024), { 'x-giftronaut-signature': signature });
    expect(huge.status).toBe(413);
  });
});

const PROVIDERS = ['GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const;

/** An item of each webhook provider's catalog to send. */
async function catalogOf(h: Harness): Promise<Record<string, string>> {
  const first = async (provider: Provider, kind: string) => (await h.gql(CatalogDocument, { provider, first: 50 })).data!.catalog.edges.find((e) => e.node.kind === kind)!.node.id;
  return { GIFTRONAUT: await first('GIFTRONAUT', 'CHOICE_CARD'), GOODY: await first('GOODY', 'PRODUCT'), ANDOPEN: await first('ANDOPEN', 'CAMPAIGN') };
}

/** A one-recipient send to each webhook provider, of the catalog items `ids`. */
const inputs: Record<(typeof PROVIDERS)[number], (key: string, ids: Record<string, string>) => SendGiftsInput> = {
  GIFTRONAUT: (key, ids) => ({
    provider: 'GIFTRONAUT',
    idempotencyKey: key,
    senderName: 'Acme',
    amount: { amount: '20', currency: 'USD' },
    recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
    giftronaut: { productId: ids.GIFTRONAUT! },
  }),
  GOODY: (key, ids) => ({
    provider: 'GOODY',
    idempotencyKey: key,
    senderName: 'Acme',
    recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
    goody: { productId: ids.GOODY! },
  }),
  ANDOPEN: (key, ids) => ({
    provider: 'ANDOPEN',
    idempotencyKey: key,
    recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }],
    andOpen: { campaignId: ids.ANDOPEN! },
  }),
};
const sandbox = (provider: (typeof PROVIDERS)[number], of: Harness): { webhooks: WebhookSender } =>
  provider === 'GIFTRONAUT' ? of.giftronaut : provider === 'GOODY' ? of.goody : of.andOpen;

describe('a forged or stale webhook about a real order', () => {
  // Sandboxes whose webhooks go to a sink, not to giftgraph: only what a test posts can make it look.
  let quiet: Harness;
  let sink: http.Server;
  let ids: Record<string, string>;
  beforeAll(async () => {
    sink = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const webhookUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
    quiet = await Harness.start({ webhooks: true, giftronaut: { webhookUrl }, goody: { webhookUrl }, andOpen: { webhookUrl } });
    ids = await catalogOf(quiet);
  });
  afterAll(async () => {
    await quiet.close();
    await new Promise((r) => sink.close(r));
  });

  /** The same delivery, signed again with the right secret at a time long past (Giftronaut signs none). */
  const restamped = (provider: (typeof PROVIDERS)[number], body: string, headers: Record<string, string>, at: number): Record<string, string> | undefined => {
    if (provider === 'GOODY') {
      const key = Buffer.from(quiet.webhookSecrets.goody.slice('whsec_'.length), 'base64');
      const signature = createHmac('sha256', key).update(`${headers['svix-id']}.${at}.${body}`).digest('base64');
      return { ...headers, 'svix-timestamp': String(at), 'svix-signature': `v1,${signature}` };
    }
    if (provider === 'ANDOPEN') {
      const signature = createHmac('sha256', quiet.webhookSecrets.andOpen).update(`${at}.${body}`).digest('hex');
      return { ...headers, 'andopen-webhook-dispatch-timestamp': String(at), 'andopen-webhook-signature': signature };
    }
    return undefined;
  };

  it.each(PROVIDERS)('%s: is refused and changes nothing, where the same delivery as sent is taken', async (provider) => {
    await quiet.gql(SendGiftsDocument, { input: inputs[provider](`forged-${provider}`, ids) });
    quiet.advance(3); // the provider has moved on and said so; only a verified webhook may make us look
    await sandbox(provider, quiet).webhooks.settle();
    const { body, headers } = sandbox(provider, quiet).webhooks.log.at(-1)!;
    const events = quiet.store.counts().statusEvents;

    const forged = await deliver(quiet, provider.toLowerCase(), `${body} `, headers);
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({ error: 'bad signature' });
    const stale = restamped(provider, body, headers, Math.floor(Date.now() / 1000) - 600);
    if (stale) {
      const late = await deliver(quiet, provider.toLowerCase(), body, stale);
      expect(late.status).toBe(401);
      expect(await late.json()).toEqual({ error: 'stale timestamp' });
    }
    expect(quiet.store.counts().statusEvents).toBe(events);

    // The delivery as the provider signed it is taken: so the refusals above were the signatures'.
    const good = await deliver(quiet, provider.toLowerCase(), body, headers);
    expect(good.status).toBe(200);
    expect(quiet.store.counts().statusEvents).toBeGreaterThan(events);
  });
});
