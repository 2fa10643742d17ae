import { Webhook } from 'standardwebhooks';
import { z } from 'zod';

/** What the Goody adapter needs to reach the Automation API, real or sandbox. */
export interface GoodyConnection {
  /** Origin of the API; paths are under `/v1`. */
  baseUrl: string;
  apiKey: string;
  /** The Svix endpoint secret, `whsec_...`. */
  webhookSecret?: string;
}

export const GOODY_PRODUCTION_URL = 'https://api.ongoody.com';

/** Whether the verifier takes the secret: it decodes the key once, when the adapter is built. */
function isVerifierKey(secret: string): boolean {
  try {
    new Webhook(secret);
    return true;
  } catch {
    return false;
  }
}

const env = z.object({
  GOODY_API_KEY: z.string().min(1).optional(),
  GOODY_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  GOODY_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be the whsec_... secret Svix shows for the endpoint')
    .refine(isVerifierKey, 'is not a whsec_ secret: its part after whsec_ must be base64')
    .optional(),
});

/** Goody's live credentials from the environment: undefined when none are set. */
export function readGoodyEnv(source: NodeJS.ProcessEnv): { connection?: GoodyConnection; problems: string[] } {
  const parsed = env.safeParse(source);
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`) };
  if (!parsed.data.GOODY_API_KEY) {
    return { problems: parsed.data.GOODY_BASE_URL ? ['GOODY_API_KEY is required when GOODY_BASE_URL is set'] : [] };
  }
  return {
    connection: {
      apiKey: parsed.data.GOODY_API_KEY,
      baseUrl: parsed.data.GOODY_BASE_URL ?? GOODY_PRODUCTION_URL,
      webhookSecret: parsed.data.GOODY_WEBHOOK_SECRET,
    },
    problems: [],
  };
}
