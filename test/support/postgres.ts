import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres.js';

/** The PostgreSQL the tests use: GIFTGRAPH_TEST_DATABASE_URL, else the machine's local `test` database. */
export const TEST_DATABASE_URL = process.env.GIFTGRAPH_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<boolean> | undefined;

/**
 * Whether the test database answers. When it does not, the PostgreSQL tests skip and say so loudly;
 * `.ci/run` sets GIFTGRAPH_REQUIRE_POSTGRES, which makes its absence a failure instead.
 */
export function postgresReachable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (error) {
      if (process.env.GIFTGRAPH_REQUIRE_POSTGRES)
        throw new Error(`GIFTGRAPH_REQUIRE_POSTGRES is set but ${redacted(TEST_DATABASE_URL)} cannot be reached: ${(error as Error).message}`);
      process.stderr.write(
        `\n*** SKIPPED: the PostgreSQL tests. ${redacted(TEST_DATABASE_URL)} cannot be reached (${(error as Error).message}); set GIFTGRAPH_TEST_DATABASE_URL to run them. ***\n\n`,
      );
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return reachable;
}

const redacted = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

/** A schema of its own for one test run (so runs never collide), dropped by `drop()`. */
export interface TestSchema {
  url: string;
  schema: string;
  open(options?: { poolSize?: number }): Promise<PostgresStore>;
  drop(): Promise<void>;
}

export async function testSchema(): Promise<TestSchema> {
  const schema = `giftgraph_test_${randomBytes(6).toString('hex')}`;
  return {
    url: TEST_DATABASE_URL,
    schema,
    open: (options = {}) => PostgresStore.open(TEST_DATABASE_URL, { schema, ...options }),
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
