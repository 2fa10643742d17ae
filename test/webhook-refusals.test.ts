import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
