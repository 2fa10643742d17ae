import { Pool } from 'undici';

/** A client of giftgraph's /graphql over one keep-alive connection, as a benchmark measures it. */
export function graphqlClient(url: string, token: string) {
  const pool = new Pool(url, { connections: 1 });
  return {
    async query(query: string, variables?: unknown): Promise<any> {
      const res = await pool.request({
        path: '/graphql',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await res.body.json()) as { data?: any; errors?: unknown };
      if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
      return body.data;
    },
    close: () => pool.close(),
  };
}

/** The p-th percentile of samples (nearest rank). */
export const percentile = (samples: readonly number[], p: number): number =>
  [...samples].sort((x, y) => x - y)[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]!;
