import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { assertKnownSchema, inOrder, POSTGRES_MIGRATIONS } from './migrations.js';
import { SqlStore } from './sql-store.js';
import type { LedgerTables } from './tables.js';

export interface PostgresOptions {
  /** The schema holding the ledger (created if missing); `public` unless given. Tests give each run its own. */
  schema?: string;
  /** Connections in the pool; 10 unless given. */
  poolSize?: number;
  /** Told of a failure of the connection that listens for new events (it reconnects by itself). */
  onListenError?: (error: Error) => void;
}

/** The channel every replica listens on; the payload names the schema whose log grew. */
const CHANNEL = 'giftgraph_events';

/**
 * A missed notification (a listening connection lost and not yet back) is made good this often:
 * the listeners read the log from where they are, and find nothing new almost always. It is a
 * safety net, not the way events arrive.
 */
const SAFETY_NET_MS = 5_000;

const INT8 = 20;

/** 64-bit integers (event positions, counts, amounts in minor units) as numbers, which hold them exactly below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const identifier = (name: string): string => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain PostgreSQL identifier: ${name}`);
  return name;
};

/**
 * The ledger on PostgreSQL, shared by any number of replicas. Every query is SqlStore's; what is
 * PostgreSQL's own is here: the pool, migrations under an advisory lock, the event log's commit
 * order (a transaction advisory lock) and the wake-up of every replica when it grows (LISTEN/NOTIFY).
 */
export class PostgresStore extends SqlStore {
  private listener: pg.Client | undefined;
  private reconnect: NodeJS.Timeout | undefined;
  private safetyNet: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    db: Kysely<LedgerTables>,
    private readonly connection: pg.ClientConfig,
    private readonly schema: string,
    private readonly onListenError: (error: Error) => void,
  ) {
    super(db, {
      name: 'postgresql',
      // Keys are database-wide: the schema keeps two ledgers in one database apart.
      serialize: async (trx, key) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${`${schema}:${key}`}))`.execute(trx);
      },
      // Delivered to every listening session when (and only if) the transaction commits.
      announce: async (trx) => {
        await sql`SELECT pg_notify(${CHANNEL}, ${schema})`.execute(trx);
      },
      locksRows: true,
    });
  }

  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const schema = identifier(options.schema ?? 'public');
    // Keepalive: a connection the network dropped half-way is found out, the listening one above all.
    const connection: pg.ClientConfig = { connectionString: url, types, options: `-c search_path=${schema}`, keepAlive: true };
    await migrate(connection, schema);
    const pool = new pg.Pool({ ...connection, max: options.poolSize ?? 10 });
    // An idle connection the server closed is dropped from the pool; the next query opens another.
    pool.on('error', () => undefined);
    const db = new Kysely<LedgerTables>({ dialect: new PostgresDialect({ pool }) });
    const store = new PostgresStore(db, connection, schema, options.onListenError ?? (() => undefined));
    await store.listen();
    store.safetyNet = setInterval(() => store.appended(), SAFETY_NET_MS);
    store.safetyNet.unref();
    return store;
  }

  /** One connection that only listens: every replica's commits that appended events wake this one's log readers. */
  private async listen(): Promise<void> {
    const client = new pg.Client(this.connection);
    const lost = (error: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.onListenError(error);
      this.reconnect = setTimeout(() => {
        // Back: what was committed meanwhile is read now.
        this.listen().then(
          () => this.appended(),
          (again: Error) => lost(again),
        );
      }, 1_000);
      this.reconnect.unref();
    };
    client.on('error', lost);
    client.on('end', () => lost(new Error('the listening connection ended')));
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload === this.schema) this.appended();
    });
    this.listener = client;
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
  }

  /** The schema version this ledger is at, for operators and tests. */
  async schemaVersion(): Promise<number> {
    const row = await this.db
      .selectFrom('schema_migrations')
      .select((eb) => eb.fn.max('version').as('version'))
      .executeTakeFirst();
    return Number(row?.version ?? 0);
  }

  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnect);
    clearInterval(this.safetyNet);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await super.close();
  }
}

/**
 * Applies the migrations this ledger lacks, each in its own transaction, under a session advisory
 * lock: replicas starting together migrate one at a time, the others wait and then find nothing
 * left to do. A ledger migrated by a newer release is refused, never served.
 */
async function migrate(connection: pg.ClientConfig, schema: string): Promise<void> {
  const client = new pg.Client(connection);
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`${schema}:giftgraph:migrations`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const applied = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    assertKnownSchema(Math.max(0, ...applied), POSTGRES_MIGRATIONS);
    for (const m of inOrder(POSTGRES_MIGRATIONS)) {
      if (applied.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
  } finally {
    // Ending the session releases its advisory lock.
    await client.end();
  }
}
