import { z } from 'zod';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, ProviderHttpClient, type CallObservers } from '../http.js';
import type { GiftronautConnection } from './config.js';

const tokenResponse = z.object({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive(),
  scope: z.string().optional(),
});

/** Renew this long before expiry, or at half the lifetime for short-lived tokens. */
const RENEW_MARGIN_MS = 60_000;

/**
 * OAuth 2.0 client-credentials tokens for Giftronaut (`POST /oauth2/token`). There is no refresh
 * token, so a new one is requested before the current one expires. However many requests wait,
 * one renewal is in flight at a time.
 */
export class GiftronautTokens {
  private readonly http: ProviderHttpClient;
  private current: { token: string; renewAt: number; expiresAt: number } | undefined;
  private renewing: Promise<string> | undefined;

  constructor(
    private readonly connection: GiftronautConnection,
    timeoutMs: number,
    private readonly now: () => number = Date.now,
    observers?: CallObservers,
    guards?: ProviderGuards,
  ) {
    this.http = new ProviderHttpClient({
      provider: 'GIFTRONAUT',
      observers,
      guards,
      baseUrl: connection.baseUrl,
      timeoutMs,
      headers: () => ({}),
      readError: (_status, body) => {
        const b = (body ?? {}) as { error?: unknown; error_description?: unknown; message?: unknown };
        return {
          code: typeof b.error === 'string' ? b.error : undefined,
          message: typeof b.error_description === 'string' ? b.error_description : typeof b.message === 'string' ? b.message : undefined,
        };
      },
    });
  }

  async authorization(): Promise<Record<string, string>> {
    return { authorization: `Bearer ${await this.token()}` };
  }

  async token(): Promise<string> {
    const current = this.current;
    if (current && this.now() < current.renewAt) return current.token;
    return this.renew();
  }

  /**
   * The provider refused `rejected` headers with a 401: drop that token (unless a newer one already
   * replaced it) and get another. Returns true when a new token is ready for a second try.
   */
  async onUnauthorized(rejected: Record<string, string>): Promise<boolean> {
    if (this.current && rejected.authorization === `Bearer ${this.current.token}`) this.current = undefined;
    await this.token();
    return true;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private renew(): Promise<string> {
    this.renewing ??= this.request().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async request(): Promise<string> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: this.connection.clientId,
      client_secret: this.connection.clientSecret,
      scope: this.connection.scopes.join(' '),
    });
    let res;
    try {
      res = await this.http.request({
        method: 'POST',
        path: '/oauth2/token',
        body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        // Asking for a token twice only yields two tokens.
        idempotent: true,
      });
    } catch (error) {
      // Without a token the API request it was for never left: that request was not sent.
      if (error instanceof ProviderCallError && error.kind === 'unknown') {
        throw new ProviderCallError('GIFTRONAUT', 'unavailable', `Giftronaut's token endpoint failed: ${error.message}`, error.status, error.providerCode);
      }
      throw error;
    }
    const parsed = tokenResponse.safeParse(res.body);
    if (!parsed.success) throw new ProviderCallError('GIFTRONAUT', 'unavailable', 'Giftronaut answered the token request in an unexpected shape');
    const lifetime = parsed.data.expires_in * 1000;
    const issued = this.now();
    this.current = {
      token: parsed.data.access_token,
      expiresAt: issued + lifetime,
      renewAt: issued + lifetime - Math.min(RENEW_MARGIN_MS, lifetime / 2),
    };
    return this.current.token;
  }
}
