import { z } from 'zod';

/**
 * `2026-05` (flat JSON) is current; `2025-10` is the JSON:API version the public docs list as
 * supported (developers.andopen.co/docs/2026-05/versioning); `2025-09` is the JSON:API version the
 * seed's examples send. Both JSON:API versions share one shape.
 */
export const ANDOPEN_VERSIONS = ['2026-05', '2025-10', '2025-09'] as const;
export type AndOpenVersion = (typeof ANDOPEN_VERSIONS)[number];

/** Whether a version speaks JSON:API (`data.type`/`data.attributes`) rather than flat JSON. */
export const isJsonApi = (version: AndOpenVersion): boolean => version !== '2026-05';

/** What the &Open adapter needs to reach the API, real or sandbox. */
export interface AndOpenConnection {
  baseUrl: string;
  apiKey: string;
  /** `2026-05` (flat JSON, the current docs), or `2025-10` / `2025-09` (JSON:API). */
  version: AndOpenVersion;
  webhookSecret?: string;
}

export const ANDOPEN_PRODUCTION_URL = 'https://api.andopen.co';

const env = z.object({
  ANDOPEN_API_KEY: z
    .string()
    .regex(/^ao-v1-(staging|production)-\S+$/, 'must look like ao-v1-staging-<secret> or ao-v1-production-<secret>')
    .optional(),
  ANDOPEN_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  ANDOPEN_API_VERSION: z.enum(ANDOPEN_VERSIONS).optional(),
  ANDOPEN_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
});

/** &Open's live credentials from the environment: undefined when none are set. */
export function readAndOpenEnv(source: NodeJS.ProcessEnv): { connection?: AndOpenConnection; problems: string[] } {
  const parsed = env.safeParse(source);
  // Never echo the key in a problem: zod's message names the rule, not the value.
  if (!parsed.success) return { problems: parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`) };
  if (!parsed.data.ANDOPEN_API_KEY) {
    return { problems: parsed.data.ANDOPEN_BASE_URL ? ['ANDOPEN_API_KEY is required when ANDOPEN_BASE_URL is set'] : [] };
  }
  return {
    connection: {
      apiKey: parsed.data.ANDOPEN_API_KEY,
      baseUrl: parsed.data.ANDOPEN_BASE_URL ?? ANDOPEN_PRODUCTION_URL,
      version: parsed.data.ANDOPEN_API_VERSION ?? '2026-05',
      webhookSecret: parsed.data.ANDOPEN_WEBHOOK_SECRET,
    },
    problems: [],
  };
}
