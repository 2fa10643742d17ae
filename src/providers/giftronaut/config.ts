import { z } from 'zod';

/** What the Giftronaut adapter needs to reach an API, real or sandbox. */
export interface GiftronautConnection {
  /** Origin of both the API (`/api/v1`) and the token endpoint (`/oauth2/token`). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Scopes asked for with each token. */
  scopes: string[];
  /** The endpoint's signing secret, for X-Giftronaut-Signature. */
  webhookSecret?: string;
}

export const GIFTRONAUT_PRODUCTION_URL = 'https://api.giftronaut.com';
export const GIFTRONAUT_SCOPES = ['orders.read', 'orders.write', 'orders.cancel', 'catalog.read'];

const env = z.object({
  GIFTRONAUT_CLIENT_ID: z.string().min(1).optional(),
  GIFTRONAUT_CLIENT_SECRET: z.string().min(1).optional(),
  GIFTRONAUT_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  GIFTRONAUT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  GIFTRONAUT_SCOPES: z
    .string()
    .regex(/^[a-z.]+( [a-z.]+)*$/, 'must be space-separated scopes such as "orders.read orders.write"')
    .optional(),
});

/** Giftronaut's live credentials from the environment: undefined when none are set. */
export function readGiftronautEnv(source: NodeJS.ProcessEnv): { connection?: GiftronautConnection; problems: string[] } {
  const parsed = env.safeParse(source);
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`) };
  const { GIFTRONAUT_CLIENT_ID: clientId, GIFTRONAUT_CLIENT_SECRET: clientSecret } = parsed.data;
  if (!clientId && !clientSecret) return { problems: [] };
  if (!clientId) return { problems: ['GIFTRONAUT_CLIENT_ID is required when GIFTRONAUT_CLIENT_SECRET is set'] };
  if (!clientSecret) return { problems: ['GIFTRONAUT_CLIENT_SECRET is required when GIFTRONAUT_CLIENT_ID is set'] };
  return {
    connection: {
      clientId,
      clientSecret,
      baseUrl: parsed.data.GIFTRONAUT_BASE_URL ?? GIFTRONAUT_PRODUCTION_URL,
      scopes: parsed.data.GIFTRONAUT_SCOPES?.split(' ') ?? GIFTRONAUT_SCOPES,
      webhookSecret: parsed.data.GIFTRONAUT_WEBHOOK_SECRET,
    },
    problems: [],
  };
}
