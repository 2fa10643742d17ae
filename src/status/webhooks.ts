import { isSpanContextValid, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { PROVIDERS, type Provider } from '../core/model.js';
import { formatTraceParent } from '../core/trace-parent.js';
import type { WebhookReply } from '../providers/adapter.js';
import { parseJsonBody } from '../providers/parse.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store } from '../store/store.js';
import type { WebhookInboxWorker } from './inbox.js';

/** What became of one webhook delivery: `challenge` is a provider's endpoint registration, not an event. */
export type WebhookResult = 'recorded' | 'duplicate' | 'ignored' | 'refused' | 'malformed' | 'error' | 'challenge';

const tracer = trace.getTracer('giftgraph');

/** Told of every delivery to a provider giftgraph knows (metrics); deliveries to unknown paths are not counted. */
export type WebhookObserver = (provider: Provider, result: WebhookResult) => void;

/**
 * Receives a provider's webhook: answer an endpoint registration challenge, or verify the signature
 * over the raw body, find the orders it speaks of through the ledger (never through anything the
 * payload says about tenants), and record the delivery with those orders in one transaction, the
 * webhook inbox. The answer is 200 once that is durable, without waiting for any provider: the
 * inbox worker then reads each order and records it as seen by WEBHOOK. A delivery already
 * recorded is answered at once as a duplicate.
 */
export class WebhookReceiver {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly inbox: WebhookInboxWorker,
    private readonly log: Logger,
    private readonly observe: WebhookObserver = () => undefined,
    /** The ledger's clock, which deliveries are recorded by (signatures are checked against the system's). */
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Each delivery is a trace of its own (a provider's trace context is not ours to continue); the
   * provider calls and ledger writes it causes are its children, and the status events it appends
   * keep its trace for their delivery spans to link to. The span holds the provider and the result,
   * never the body, its headers or signature.
   */
  async receive(providerPath: string, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): Promise<WebhookReply> {
    const provider = PROVIDERS.find((p) => p.toLowerCase() === providerPath.toLowerCase()) as Provider | undefined;
    if (!provider) return { status: 404, body: { error: 'no webhooks are configured for this provider' } };
    return tracer.startActiveSpan('webhook receive', { kind: SpanKind.SERVER, root: true, attributes: { 'giftgraph.provider': provider } }, async (span) => {
      try {
        const [result, reply] = await this.handle(provider, rawBody, headers);
        this.observe(provider, result);
        span.setAttribute('giftgraph.webhook.result', result);
        return reply;
      } catch (error) {
        this.observe(provider, 'error');
        span.setAttribute('giftgraph.webhook.result', 'error');
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw error;
      } finally {
        span.end();
      }
    });
  }

  private async handle(provider: Provider, rawBody: Buffer, headers: Record<string, string | string[] | undefined>): Promise<[WebhookResult, WebhookReply]> {
    if (provider === 'GUUSTO') return ['refused', { status: 404, body: { error: 'Guusto sends no webhooks; giftgraph polls it' } }];
    const webhooks = this.providers.get(provider)?.adapter.webhooks;
    if (!webhooks) return ['refused', { status: 404, body: { error: 'no webhooks are configured for this provider' } }];

    const challenge = webhooks.challenge?.(rawBody, headers);
    if (challenge) return ['challenge', challenge];
    const verdict = webhooks.verify(rawBody, headers, Date.now());
    if (!verdict.ok) {
      this.log.warn({ provider, reason: verdict.reason }, 'webhook refused');
      return verdict.malformed ? ['malformed', { status: 400, body: { error: verdict.reason } }] : ['refused', { status: 401, body: { error: verdict.reason } }];
    }
    // A delivery is recorded only once its change is: a re-delivery (the provider's retry of one we
    // answered too late, say) has nothing left to do, and costs no provider call.
    if (await this.store.hasWebhookDelivery(provider, verdict.deliveryId)) return ['duplicate', { status: 200, body: { status: 'duplicate' } }];
    const payload = parseJsonBody(rawBody);
    if (payload === undefined) return ['malformed', { status: 400, body: { error: 'body is not JSON' } }];
    const refs = webhooks.references(verdict.eventType, payload);
    if (!refs) {
      this.log.info({ provider, eventType: verdict.eventType }, 'webhook of an unknown event type ignored');
      return ['ignored', { status: 202, body: { status: 'ignored', reason: 'unknown event type' } }];
    }
    // An event about an order resolves to that order in the ledger, and to nothing else. The
    // delivery and the orders it names are recorded together; the inbox reads them from the provider.
    const orderIds = new Set<string>();
    for (const ref of refs) {
      const order = await this.store.findOrderByProviderRef(provider, ref);
      if (order) orderIds.add(order.id);
    }
    const span = trace.getActiveSpan()?.spanContext();
    const traceParent = span && isSpanContextValid(span) ? formatTraceParent(span) : null;
    const first = await this.store.recordWebhookDelivery(provider, verdict.deliveryId, this.clock().toISOString(), [...orderIds], traceParent);
    if (first && orderIds.size > 0) this.inbox.wake();
    return [first ? 'recorded' : 'duplicate', { status: 200, body: { status: first ? 'recorded' : 'duplicate', orders: orderIds.size } }];
  }
}
