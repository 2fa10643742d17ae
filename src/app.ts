import type { Logger } from 'pino';
import { OrdersService } from './orders/service.js';
import type { ProviderRegistry } from './providers/registry.js';
import { buildGiftgraphSchema } from './schema/build.js';
import { TokenVerifier, type JwtSettings } from './server/auth.js';
import { GiftgraphServer } from './server/server.js';
import type { Store } from './store/store.js';

export interface AppOptions {
  store: Store;
  providers: ProviderRegistry;
  jwt: JwtSettings;
  log: Logger;
}

export interface App {
  server: GiftgraphServer;
  orders: OrdersService;
  listen(port: number, host: string): Promise<string>;
  /** Stops serving (gracefully), then releases provider connections and closes the store. */
  stop(): Promise<void>;
}

/** Wires the store, the providers and the server together. Knows nothing of sandboxes or the environment. */
export async function createApp({ store, providers, jwt, log }: AppOptions): Promise<App> {
  const recovered = await store.recoverInterruptedSends(new Date().toISOString());
  if (recovered > 0) log.warn({ recovered }, 'orders interrupted mid-send by the last stop are UNCONFIRMED; check them with their provider');
  const orders = new OrdersService(store, providers, log);
  const schema = await buildGiftgraphSchema();
  const server = new GiftgraphServer({ schema, services: { orders, providers, log }, store, verifier: new TokenVerifier(jwt), log });
  return {
    server,
    orders,
    listen: (port, host) => server.listen(port, host),
    async stop() {
      await server.stop();
      await providers.close();
      store.close();
    },
  };
}
