import type { InputErrors } from '../../core/errors.js';
import { currencyExponent, minorFromDecimal, type Money } from '../../core/money.js';
import type { CatalogEntry, CreateOutcome, OrderSnapshot, ProviderAdapter, SendRequest, ValidationInput, ProviderOrder, ProviderRecipient } from '../adapter.js';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, type CallObservers } from '../http.js';
import { GuustoApi, type GuustoCreateBody } from './api.js';
import { allCertificates } from './certificates.js';
import type { GuustoConnection } from './config.js';
import { guustoStatus, requestSnapshot } from './map.js';

/**
 * Guusto's documented limits for `POST /orders`: 1 to 20 orderItems, CAD or USD, and `amount` a
 * `number` from 1 to 10000 (https://docs.guusto.com/version/openapi/order-gift). The schema allows
 * decimals and says nothing finer [assume: to the cent, the currencies' minor unit].
 */
const CURRENCIES = ['CAD', 'USD'] as const;
const MAX_RECIPIENTS = 20;
const MIN_AMOUNT = 1;
const MAX_AMOUNT = 10_000;

/** The amount as Guusto's JSON number in currency units: 2550 cents is 25.5. */
export const guustoAmount = (money: Money): number => money.minor / 10 ** currencyExponent(money.currency);

export interface GuustoOptions {
  language?: 'EN_CA' | 'FR_CA' | 'ES_MX';
}

export class GuustoAdapter implements ProviderAdapter {
  readonly provider = 'GUUSTO' as const;
  readonly capabilities = {
    canCancel: false,
    canResend: false,
    canListOrders: false,
    schedulesNatively: false,
    hasWebhooks: false,
    deduplicatesCreates: false,
  };
  readonly maxRecipients = MAX_RECIPIENTS;
  readonly api: GuustoApi;

  /** `observers`: where the API client reports its calls (the registry's hub); `guards`: the registry's limiters and circuits. */
  constructor(connection: GuustoConnection, timeoutMs: number, observers?: CallObservers, guards?: ProviderGuards) {
    this.api = new GuustoApi(connection, timeoutMs, observers, guards);
  }

  validate(input: ValidationInput, errors: InputErrors): void {
    if (!input.message) errors.add('input.message', 'Guusto requires a message with every gift');
    const currencies = new Set<string>();
    for (const r of input.recipients) {
      const field = `input.recipients[${r.position}]`;
      if (!r.email && !r.employeeNumber) errors.add(field, 'Guusto needs an email or an employeeNumber for each recipient');
      if (!r.amount) {
        errors.add(`${field}.amount`, "Guusto needs an amount: set input.amount or this recipient's amount");
        continue;
      }
      currencies.add(r.amount.currency);
      if (!CURRENCIES.includes(r.amount.currency as never)) errors.add(`${field}.amount.currency`, 'Guusto sends CAD or USD');
      const units = guustoAmount(r.amount);
      if (units < MIN_AMOUNT || units > MAX_AMOUNT) errors.add(`${field}.amount.amount`, `Guusto takes ${MIN_AMOUNT} to ${MAX_AMOUNT}`);
    }
    if (currencies.size > 1) errors.add('input.recipients', 'Guusto sends one currency per order');
  }

  async create(request: SendRequest): Promise<CreateOutcome> {
    const options = request.options as GuustoOptions;
    const body: GuustoCreateBody = {
      orderItems: request.recipients.map((r) => ({
        message: request.message ?? '',
        amount: guustoAmount(r.amount!),
        recipient: {
          ...(r.firstName ? { firstName: r.firstName } : {}),
          ...(r.lastName ? { lastName: r.lastName } : {}),
          ...(r.email ? { email: r.email } : {}),
          ...(r.employeeNumber ? { employeeNumber: r.employeeNumber } : {}),
        },
      })),
      currency: request.recipients[0]!.amount!.currency as GuustoCreateBody['currency'],
      ...(options.language ? { language: options.language } : {}),
    };
    try {
      const accepted = await this.api.placeOrder(body, request.reference);
      return { kind: 'accepted', snapshot: requestSnapshot(accepted) };
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error;
      return error.kind === 'unknown' ? { kind: 'unknown', error } : { kind: 'not_sent', error };
    }
  }

  isSettled(order: ProviderOrder): boolean {
    if (order.submission !== 'ACCEPTED') return true;
    // Guusto tracks nothing after issuing certificates: COMPLETED and FAILED are its last words [assume].
    // A COMPLETED request is settled once every recipient's certificate has been read.
    const status = guustoStatus(order.providerStatus);
    return status === 'FAILED' || (status === 'SENT' && order.details.certificatesComplete === true);
  }

  async refresh(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot> {
    const request = await this.api.orderStatus(order.providerRef!);
    // Certificates exist once the request completes; before that "Find Order" lists none.
    if (guustoStatus(request.requestStatus) !== 'SENT') return requestSnapshot(request);
    const certificates = await allCertificates(this.api, request.requestId);
    const snapshot = requestSnapshot(request, certificates, recipients);
    return { ...snapshot, details: { ...snapshot.details, certificatesComplete: certificates.length >= recipients.length } };
  }

  async catalog(): Promise<CatalogEntry[]> {
    // Guusto has no catalog endpoint: what it sends is an open amount in CAD or USD, to the cent.
    return CURRENCIES.map((currency) => ({
      localId: `open-amount-${currency}`,
      kind: 'OPEN_AMOUNT',
      name: `Guusto gift (${currency})`,
      currency,
      prices: [],
      minAmount: { minor: MIN_AMOUNT * 100, currency },
      maxAmount: { minor: MAX_AMOUNT * 100, currency },
    }));
  }

  async balances(): Promise<Money[]> {
    const amounts = await Promise.all(CURRENCIES.map((currency) => this.api.workspaceBalance(currency)));
    return CURRENCIES.map((currency, i) => ({ minor: minorFromDecimal(amounts[i]!, currency), currency }));
  }

  close(): Promise<void> {
    return this.api.http.close();
  }
}
