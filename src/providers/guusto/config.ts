import { z } from 'zod';

/** What the Guusto adapter needs to reach an API, real or sandbox. */
export interface GuustoConnection {
  baseUrl: string;
  token: string;
  workspaceId: string;
}

export const GUUSTO_PRODUCTION_URL = 'https://api.guusto.com';

const env = z.object({
  GUUSTO_API_TOKEN: z.string().min(1).optional(),
  GUUSTO_WORKSPACE_ID: z.string().regex(/^\d+$/, 'must be the numeric workspace id').optional(),
  GUUSTO_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
});

/**
 * Guusto's live credentials from the environment: undefined when none are set,
 * an error message for each variable that is set wrongly or missing its partner.
 */
export function readGuustoEnv(source: NodeJS.ProcessEnv): { connection?: GuustoConnection; problems: string[] } {
  const parsed = env.safeParse(source);
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => `${String(i.path[0])} ${i.message}`) };
  }
  const { GUUSTO_API_TOKEN: token, GUUSTO_WORKSPACE_ID: workspaceId, GUUSTO_BASE_URL: baseUrl } = parsed.data;
  if (!token && !workspaceId) return { problems: [] };
  if (!token) return { problems: ['GUUSTO_API_TOKEN is required when GUUSTO_WORKSPACE_ID is set'] };
  if (!workspaceId) return { problems: ['GUUSTO_WORKSPACE_ID is required when GUUSTO_API_TOKEN is set'] };
  return { connection: { token, workspaceId, baseUrl: baseUrl ?? GUUSTO_PRODUCTION_URL }, problems: [] };
}
