import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../src/core/model.js';
import type { WebhookSender } from '../src/sandboxes/kit/webhooks.js';
import { CatalogDocument, OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness } from './support/harness.js';
import { Subscriber } from './support/subscriber.js';

/** A subscriber the server runs already: every event committed from now on reaches it. */
async function listen(h: Harness, variables = {}, token?: string): Promise<Subscriber> {
  const s = new Subscriber(h.url, token ?? (await h.token()), variables);
  await s.started(h.app.server);
  return s;
}

/** Posts a delivery, then waits for the inbox to read the orders it named. */
async function post(h: Harness, provider: string, body: string, headers: Record<string, string>): Promise<Response> {
  const res = await fetch(`${h.url}/webhooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await h.app.inbox.idle();
  return res;
}

/** An item of each webhook provider's catalog to send. */
async function catalogOf(h: Harness): Promise<Record<string, string>> {
  const first = async (provider: Provider, kind: string) => (await h.gql(CatalogDocument, { provider, first: 50 })).data!.catalog.edges.find((e) => e.node.kind === kind)!.node.id;
  return { GIFTRONAUT: await first('GIFTRONAUT', 'CHOICE_CARD'), GOODY: await first('GOODY', 'PRODUCT'), ANDOPEN: await first('ANDOPEN', 'CAMPAIGN') };
}

/** Each order's and each recipient's events form one chain (each starts where the last ended), with no status twice. */
function expectOneChainEach(events: readonly Subscriber['events'][number][]): void {
  const chains = new Map<string, { from?: string | null; to: string }[]>();
  for (const e of events) chains.set(e.recipient?.email ?? '*', [...(chains.get(e.recipient?.email ?? '*') ?? []), e]);
  for (const [who, chain] of chains) {
    for (let i = 1; i < chain.length; i++) expect(`${who}: ${chain[i]!.from}`).toBe(`${who}: ${chain[i - 1]!.to}`);
    expect(new Set(chain.map((e) => e.to)).size).toBe(chain.length);
  }
}

/** Where each of an order's chains ended: `*` for the order, the email for each recipient. */
const lastStatuses = (events: readonly Subscriber['events'][number][]): Record<string, string> => Object.fromEntries(events.map((e) => [e.recipient?.email ?? '*', e.to]));

describe('webhooks', () => {
  let h: Harness;
  let catalog: Record<string, string>;
  const subscribers: Subscriber[] = [];
  beforeAll(async () => {
    h = await Harness.start({ webhooks: true });
    catalog = await catalogOf(h);
  });
  afterAll(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await h.close();
  });

  const inputs: Record<'GIFTRONAUT' | 'GOODY' | 'ANDOPEN', (key: string, ids?: Record<string, string>) => SendGiftsInput> = {
    GIFTRONAUT: (key, ids = catalog) => ({
      provider: 'GIFTRONAUT',
      idempotencyKey: key,
      senderName: 'Acme',
      amount: { amount: '20', currency: 'USD' },
      recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
      giftronaut: { productId: ids.GIFTRONAUT! },
    }),
    GOODY: (key, ids = catalog) => ({
      provider: 'GOODY',
      idempotencyKey: key,
      senderName: 'Acme',
      recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
      goody: { productId: ids.GOODY! },
    }),
    ANDOPEN: (key, ids = catalog) => ({
      provider: 'ANDOPEN',
      idempotencyKey: key,
      recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }],
      andOpen: { campaignId: ids.ANDOPEN! },
    }),
  };
  const finals = { GIFTRONAUT: 'SENT', GOODY: 'DELIVERED', ANDOPEN: 'DELIVERED' };
  const sandbox = (provider: keyof typeof inputs, of = h): { webhooks: WebhookSender; http: { received: readonly unknown[] } } =>
    provider === 'GIFTRONAUT' ? of.giftronaut : provider === 'GOODY' ? of.goody : of.andOpen;

  const PROVIDERS = ['GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const;
  const eventsOf = (s: Subscriber, orderId: string) => s.events.filter((e) => e.order.id === orderId);
  /** Moves the sandboxes on a step at a time, each step's webhooks delivered and published before the next. */
  const run = async (provider: keyof typeof inputs, steps: number) => {
    for (let step = 0; step < steps; step++) {
      h.advance(1);
      await sandbox(provider).webhooks.settle();
      await h.app.inbox.idle(); // the orders each delivery named, read
    }
    await h.app.tail.flush();
  };

  it.each(PROVIDERS)('%s: every change reaches subscribers from its webhooks alone, in order, once; another tenant sees only its own', async (provider) => {
    const mine = await listen(h);
    const globex = await h.token({ tenant: 'globex' });
    const theirs = await listen(h, {}, globex);
    subscribers.push(mine, theirs);
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`hooked-${provider}`) })).data!.sendGifts.order!.id;
    const theirId = (await h.gql(SendGiftsDocument, { input: inputs[provider](`hooked-${provider}`) }, globex)).data!.sendGifts.order!.id;
    await run(provider, 6);
    await expect
      .poll(
        () =>
          eventsOf(mine, id)
            .filter((e) => !e.recipient)
            .at(-1)?.to,
      )
      .toBe(finals[provider]);
    const events = eventsOf(mine, id);
    expectOneChainEach(events);
    expect(lastStatuses(events)).toEqual({ '*': finals[provider], 'ada@example.com': finals[provider] });
    // The send's own answer, then nothing but webhooks.
    expect(events.filter((e) => e.source !== 'WEBHOOK').map((e) => `${e.source}:${e.from}`)).toEqual(['MUTATION:null', 'MUTATION:null']);
    // The other tenant's order moved through the same webhooks: its subscriber saw that, and only that.
    await expect.poll(() => lastStatuses(eventsOf(theirs, theirId))['*']).toBe(finals[provider]);
    expect(theirs.events.every((e) => e.order.id === theirId)).toBe(true);
    expect(mine.events.some((e) => e.order.id === theirId)).toBe(false);
  });

  it.each(PROVIDERS)('%s: a subscriber that reconnects with its last cursor gets exactly what it missed, then live ones', async (provider) => {
    const witness = await listen(h);
    const first = await listen(h);
    subscribers.push(witness, first);
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`resume-${provider}`) })).data!.sendGifts.order!.id;
    await run(provider, 1);
    await expect.poll(() => eventsOf(first, id).length).toBeGreaterThan(1);
    const seen = [...first.events];
    await first.close();
    await run(provider, 2); // changes while nobody listens on this connection
    const resumed = await listen(h, { after: seen.at(-1)!.cursor });
    subscribers.push(resumed);
    await run(provider, 4); // and live ones after the replay
    await expect
      .poll(
        () =>
          eventsOf(witness, id)
            .filter((e) => !e.recipient)
            .at(-1)?.to,
      )
      .toBe(finals[provider]);
    await expect.poll(() => [...seen, ...resumed.events].filter((e) => e.order.id === id).length).toBe(eventsOf(witness, id).length);
    const across = [...seen, ...resumed.events].filter((e) => e.order.id === id);
    expect(across.map((e) => e.cursor)).toEqual(eventsOf(witness, id).map((e) => e.cursor));
    expect(eventsOf(resumed, id).length).toBeGreaterThan(0);
  });

  it.each(PROVIDERS)('%s: a webhook delivered twice is answered as a duplicate and records nothing twice', async (provider) => {
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`twice-${provider}`) })).data!.sendGifts.order!.id;
    await run(provider, 1);
    const history = async () => (await h.gql(OrderDocument, { id })).data!.order!.statusHistory;
    const before = await history();
    const delivered = sandbox(provider)
      .webhooks.log.filter((d) => d.delivered)
      .at(-1)!;
    const calls = sandbox(provider).http.received.length;
    const again = await post(h, provider.toLowerCase(), delivered.body, delivered.headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'duplicate' });
    expect(sandbox(provider).http.received.length).toBe(calls); // answered from the ledger, without asking the provider
    expect(await history()).toEqual(before);
  });

  it.each(PROVIDERS)('%s: polls racing a webhook yield one event per change', async (provider) => {
    const s = await listen(h);
    subscribers.push(s);
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`race-${provider}`) })).data!.sendGifts.order!.id;
    for (let step = 0; step < 6; step++) {
      h.advance(1);
      await Promise.all([h.gql(OrderDocument, { id }), h.gql(OrderDocument, { id }), sandbox(provider).webhooks.settle()]);
    }
    await h.app.tail.flush();
    await expect.poll(() => lastStatuses(eventsOf(s, id))['*']).toBe(finals[provider]);
    expectOneChainEach(eventsOf(s, id));
  });
});
