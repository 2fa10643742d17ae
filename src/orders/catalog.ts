import { badInput, GiftgraphError } from '../core/errors.js';
import type { Money } from '../core/money.js';
import type { Provider } from '../core/model.js';
import { problemsOf, type Problem } from '../core/problems.js';
import { nativeConnection, offsetConnection, type Connection } from '../pagination/connection.js';
import type { TenantCursors } from '../pagination/cursor.js';
import type { CatalogEntry } from '../providers/adapter.js';
import { ProviderCallError } from '../providers/http.js';
import type { ProviderRegistry } from '../providers/registry.js';

/**
 * What the providers offer and hold, read for clients: each catalog, whole or a page at a time, and
 * the balances. A provider's failure leaves here as a typed GiftgraphError (`providerError`), or,
 * for a catalog page the provider failed part of the way through, as that page's problem.
 */
export class CatalogService {
  constructor(private readonly providers: ProviderRegistry) {}

  /** The provider's whole catalog, as its adapter keeps it for a while (input checks read the same). */
  async catalog(provider: Provider): Promise<CatalogEntry[]> {
    const adapter = this.adapter(provider);
    return read('could not list its catalog', () => adapter.catalog());
  }

  /**
   * One page of the provider's catalog as a connection, each item shown by `view`: read live page by
   * page where the provider pages it (Goody products, &Open campaigns), from the whole list elsewhere.
   * A page the provider failed before any item is a thrown error; one it failed part of the way
   * through is the items read, with the failure in `problems` (its endCursor resumes after them).
   */
  async page<T>(
    provider: Provider,
    args: { first?: number | null; after?: string | null },
    cursors: TenantCursors,
    view: (entry: CatalogEntry) => T,
  ): Promise<Connection<T> & { problems: Problem[] }> {
    const adapter = this.adapter(provider);
    const scope = { list: `catalog:${provider}` };
    return read('could not list its catalog', async () => {
      const pages = adapter.catalogPages;
      if (!pages) return { ...offsetConnection(await adapter.catalog(), args, cursors, scope, view), problems: [] };
      const { interrupted, ...page } = await nativeConnection(pages.list, pages.isPosition, args, cursors, scope, view);
      if (interrupted === undefined) return { ...page, problems: [] };
      if (!(interrupted instanceof ProviderCallError)) throw interrupted;
      return { ...page, problems: problemsOf(providerError(interrupted, 'could not list the rest of this page of its catalog'))! };
    });
  }

  /** Funds available to send with, per currency, asked of the provider now; null where it reports none or is not configured. */
  async balances(provider: Provider): Promise<Money[] | null> {
    const adapter = this.providers.get(provider)?.adapter;
    if (!adapter?.balances) return null;
    return read('did not report its balance', () => adapter.balances!());
  }

  private adapter(provider: Provider) {
    const registered = this.providers.get(provider);
    if (!registered) throw badInput('provider', `${provider} is not configured on this server`);
    return registered.adapter;
  }
}

/**
 * A provider read's failure as a client sees it: PROVIDER_REJECTED when the provider refused,
 * PROVIDER_UNAVAILABLE otherwise, with the provider, its own code and whether asking again may
 * succeed (a read may be asked again whatever became of it). `doing` says what failed ("could not
 * list its catalog").
 */
function providerError(error: ProviderCallError, doing: string): GiftgraphError {
  const retryable = error.kind !== 'rejected';
  return new GiftgraphError(error.kind === 'rejected' ? 'PROVIDER_REJECTED' : 'PROVIDER_UNAVAILABLE', `${error.provider} ${doing}: ${error.message}`, {
    provider: error.provider,
    providerCode: error.providerCode,
    retryable,
  });
}

/** Runs a provider read, its failure becoming the client's typed error. */
async function read<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ProviderCallError) throw providerError(error, doing);
    throw error;
  }
}
