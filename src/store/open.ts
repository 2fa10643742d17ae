import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

/**
 * The ledger the configuration names: PostgreSQL when a `postgres://` URL is given (any number of
 * replicas share it), else the SQLite file (one process owns it).
 */
export async function openStore(
  config: { databaseUrl?: string; databaseSchema?: string; dbPath: string },
  options: { onListenError?: (error: Error) => void } = {},
): Promise<Store> {
  if (config.databaseUrl) {
    // Loaded only when asked for: the embedded default starts without the PostgreSQL client.
    const { PostgresStore } = await import('./postgres.js');
    return PostgresStore.open(config.databaseUrl, { ...options, schema: config.databaseSchema });
  }
  return SqliteStore.open(config.dbPath);
}
