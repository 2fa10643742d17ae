import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderDocument, SendGiftsDocument } from './generated/graphql.js';
import { GUUSTO_LIFE, twoRecipientGuusto } from './support/guusto-lifecycle.js';
import { Harness } from './support/harness.js';
import { Subscriber } from './support/subscriber.js';

let h: Harness;
const open: Subscriber[] = [];
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => {
  await Promise.all(open.map((s) => s.close()));
  await h.close();
});

const subscribe = async (variables: ConstructorParameters<typeof Subscriber>[2] = {}, token?: string) => {
  const s = new Subscriber(h.url, token ?? (await h.token()), variables);
  open.push(s);
  // Live once the server runs it: an event committed from then on must reach it.
  await s.started(h.app.server);
  return s;
};

describe('orderStatusChanged', () => {
  it('delivers every transition from send to final, in order, once', async () => {
    const s = await subscribe();
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-1') });
    const id = sent.data!.sendGifts.order!.id;
    let read;
    for (let step = 0; step < 2; step++) {
      h.advance(1);
      read = await h.gql(OrderDocument, { id });
    }
    await expect.poll(() => s.events.length).toBe(GUUSTO_LIFE.length);
    expect(s.transitions()).toEqual(GUUSTO_LIFE);
    // Each event is answered with the ledger as it was then: the last one sees its recipient's whole history.
    expect(s.events.at(-1)!.recipient!.statusHistory.map((c) => c.to)).toEqual(['PENDING', 'PROCESSING', 'SENT']);
    expect(s.events.map((e) => e.source)).toEqual(['MUTATION', 'MUTATION', 'MUTATION', 'POLL', 'POLL', 'POLL', 'POLL', 'POLL', 'POLL']);
    expect(new Set(s.events.map((e) => e.order.id))).toEqual(new Set([id]));
    const cursors = s.events.map((e) => e.cursor);
    expect(new Set(cursors).size).toBe(cursors.length);
    // Each says when giftgraph learned of it, in order, and what the provider itself said.
    const times = s.events.map((e) => Date.parse(e.occurredAt));
    expect(times.every((t, i) => t >= (times[i - 1] ?? t) && t <= Date.now())).toBe(true);
    const said = s.events.filter((e) => !e.recipient).at(-1)!.providerStatus;
    expect(said).not.toBe('');
    expect(said).toBe(read!.data!.order!.providerStatus);
  });

  it("joins an order's history where it ends: subscribing after its last entry's cursor gives exactly what follows", async () => {
    const witness = await subscribe();
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-join') });
    const id = sent.data!.sendGifts.order!.id;
    // A client renders the history as it is now (the creation), then subscribes from its end.
    const history = sent.data!.sendGifts.order!.statusHistory;
    expect(history.map((c) => [c.from, c.to])).toEqual([[null, 'PENDING']]);
    const joined = await subscribe({ orderId: id, after: history.at(-1)!.cursor });
    h.advance(1);
    await h.gql(OrderDocument, { id });
    await expect.poll(() => witness.events.filter((e) => e.order.id === id).length).toBe(6);
    // Everything the log holds of this order after that entry: its recipients' creation, then the step that followed.
    const following = witness.events.filter((e) => e.order.id === id).slice(1);
    await expect.poll(() => joined.events.length).toBe(following.length);
    expect(joined.events.map((e) => e.cursor)).toEqual(following.map((e) => e.cursor));
    expect(joined.transitions()).toEqual([
      'ada@example.com:null>PENDING',
      'grace@example.com:null>PENDING',
      '*:PENDING>PROCESSING',
      'ada@example.com:PENDING>PROCESSING',
      'grace@example.com:PENDING>PROCESSING',
    ]);
  });

  it('resumes after a disconnect with exactly the events missed, then live ones', async () => {
    const first = await subscribe();
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-resume') });
    const id = sent.data!.sendGifts.order!.id;
    await expect.poll(() => first.events.length).toBe(3);
    const cursor = first.events.at(-1)!.cursor;
    await first.close();

    h.advance(1);
    await h.gql(OrderDocument, { id }); // three events happen while nobody listens
    const resumed = await subscribe({ after: cursor });
    await expect.poll(() => resumed.events.length).toBe(3);
    h.advance(1);
    await h.gql(OrderDocument, { id });
    await expect.poll(() => resumed.events.length).toBe(6);
    expect(resumed.transitions()).toEqual(GUUSTO_LIFE.slice(3));
  });

  it('follows one order when asked', async () => {
    const other = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-other') });
    const mine = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-mine') });
    const s = await subscribe({ orderId: mine.data!.sendGifts.order!.id, after: null });
    h.advance(1);
    await h.gql(OrderDocument, { id: other.data!.sendGifts.order!.id });
    await h.gql(OrderDocument, { id: mine.data!.sendGifts.order!.id });
    await expect.poll(() => s.events.length).toBe(3);
    await h.app.tail.flush();
    expect(s.events.every((e) => e.order.id === mine.data!.sendGifts.order!.id)).toBe(true);
  });

  it("shows another tenant's subscriber nothing, and refuses it one of our orders", async () => {
    const globex = await h.token({ tenant: 'globex' });
    const theirs = await subscribe({}, globex);
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-private') });
    h.advance(1);
    await h.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id });
    // Then an order of their own: its events reach them after any of ours would have.
    const own = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('live-private') }, globex);
    await expect.poll(() => theirs.events.length).toBe(3);
    expect(new Set(theirs.events.map((e) => e.order.id))).toEqual(new Set([own.data!.sendGifts.order!.id]));

    const snooping = await subscribe({ orderId: sent.data!.sendGifts.order!.id }, globex);
    await expect.poll(() => snooping.errors.length).toBe(1);
    expect(JSON.stringify(snooping.errors)).toMatch(/NOT_FOUND/);
  });

  it('runs identical live subscriptions of a tenant once, and delivers to each of them', async () => {
    const groups = (h.app.server as unknown as { groups: { size: number } }).groups;
    const before = groups.size;
    const token = await h.token({ tenant: 'umbrella' });
    const watchers = await Promise.all(Array.from({ length: 5 }, () => subscribe({}, token)));
    const stranger = await subscribe({}, await h.token({ tenant: 'initech' }));
    expect(groups.size).toBe(before + 2);
    await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('shared') }, token);
    for (const w of watchers) await expect.poll(() => w.transitions()).toEqual(GUUSTO_LIFE.slice(0, 3));
    expect(stranger.events).toEqual([]);
    await Promise.all([...watchers, stranger].map((w) => w.close()));
    await expect.poll(() => groups.size).toBe(before);
  });

  it('keeps serving a group after the subscriber that started it leaves with an expired token', async () => {
    const groups = (h.app.server as unknown as { groups: { size: number } }).groups;
    const before = groups.size;
    // Expiry is in whole seconds: this token has one to two left, time enough for the watcher to join.
    const founder = await subscribe({}, await h.token({ tenant: 'hooli', ttlSeconds: 2 }));
    const token = await h.token({ tenant: 'hooli' });
    const watcher = await subscribe({}, token);
    expect(founder.closeCode).toBeUndefined();
    expect(groups.size).toBe(before + 1); // one group, started by the founder
    await expect.poll(() => founder.closeCode, { timeout: 4_000 }).toBe(4401);
    expect(groups.size).toBe(before + 1);
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('after-founder') }, token);
    await expect.poll(() => watcher.transitions()).toEqual(GUUSTO_LIFE.slice(0, 3));
    expect(watcher.errors).toEqual([]);
    // Nested fields that authorize on their own still answer for the members left.
    for (const e of watcher.events.filter((e) => e.recipient)) expect(e.recipient!.order.id).toBe(sent.data!.sendGifts.order!.id);
  });

  it('refuses a cursor past the end of the log', async () => {
    const ahead = await subscribe({ after: Buffer.from('{"e":999999}').toString('base64url').replace(/^/, 'c1.') });
    await expect.poll(() => ahead.errors.length).toBe(1);
    expect(JSON.stringify(ahead.errors)).toMatch(/BAD_USER_INPUT/);
  });

  it('needs orders:read, and closes with 4401 when the token expires', async () => {
    const writer = await subscribe({}, await h.token({ scope: 'orders:write' }));
    await expect.poll(() => writer.errors.length).toBe(1);
    expect(JSON.stringify(writer.errors)).toMatch(/FORBIDDEN/);

    const brief = await subscribe({}, await h.token({ ttlSeconds: 2 }));
    await expect.poll(() => brief.closeCode, { timeout: 4_000 }).toBe(4401);
  });
});
