import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { assertKnownSchema, inOrder, SQLITE_MIGRATIONS } from './migrations.js';
import { SqlStore } from './sql-store.js';
import type { LedgerTables } from './tables.js';

/**
 * better-sqlite3 for Kysely, with each statement prepared once per SQL text: preparing is a large
 * share of a small query's cost, and Kysely asks for a statement on every query.
 */
function preparedOnce(db: Database.Database): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare(text: string): SqliteStatement {
      let statement = statements.get(text);
      if (!statement) {
        // IN lists of every length and filter combinations make distinct texts; keep the cache bounded.
        if (statements.size >= 512) statements.clear();
        statement = db.prepare(text);
        statements.set(text, statement);
      }
      return statement as unknown as SqliteStatement;
    },
  };
}

/**
 * The default store: one SQLite file, WAL with synchronous=FULL so a committed ledger row survives
 * a power cut. One process owns it (an exclusive lock), and Kysely runs everything on its one
 * connection: a transaction holds it until it ends, so nothing else runs inside one.
 */
export class SqliteStore extends SqlStore {
  private constructor(private readonly raw: Database.Database) {
    super(new Kysely<LedgerTables>({ dialect: new SqliteDialect({ database: preparedOnce(raw) }) }), {
      name: 'sqlite',
      serialize: async () => undefined,
      announce: async () => undefined,
      locksRows: false,
    });
  }

  static open(file: string): SqliteStore {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    // One process owns a ledger: a second one could take over orders the first is still sending.
    // The exclusive lock is taken by the migration's write below and held until close.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('busy_timeout = 2000');
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      migrate(db);
      // Whoever served this file before is gone (the lock says so): its creates in flight are interrupted.
      db.exec('DELETE FROM replicas');
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(`The ledger ${file} is in use by another giftgraph process; one process serves one ledger.`);
      }
      throw error;
    }
    return new SqliteStore(db);
  }

  schemaVersion(): number {
    return (this.raw.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  }

  /** Row counts of the ledger's tables, for operators and tests. */
  counts(): { orders: number; recipients: number; statusEvents: number } {
    const count = (table: string) => this.raw.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    return { orders: count('orders'), recipients: count('recipients'), statusEvents: count('status_events') };
  }

  /** A pragma's current value, so operators and tests can confirm durability settings. */
  pragma(name: 'journal_mode' | 'synchronous' | 'foreign_keys'): unknown {
    return this.raw.pragma(name, { simple: true });
  }

  /** Closes the file at once (a reopen right after finds it free), then lets Kysely release its connection. */
  override async close(): Promise<void> {
    if (!this.raw.open) return;
    this.raw.close();
    await super.close();
  }
}

/**
 * Applies the steps this ledger lacks, each in one transaction. Foreign keys are off meanwhile, as
 * SQLite's way of changing a table (copy it into a new one, drop the old, rename) needs; each step
 * checks them before it commits, and they are on again after.
 */
function migrate(db: Database.Database): void {
  db.exec('BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); COMMIT');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  assertKnownSchema(Math.max(0, ...applied), SQLITE_MIGRATIONS);
  const foreignKeys = db.pragma('foreign_keys', { simple: true });
  db.pragma('foreign_keys = OFF');
  try {
    for (const m of inOrder(SQLITE_MIGRATIONS)) {
      if (applied.has(m.version)) continue;
      db.transaction(() => {
        db.exec(m.sql);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new Error(`schema step ${m.version} (${m.name}) would break ${broken.length} foreign key(s)`);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      })();
    }
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
}
