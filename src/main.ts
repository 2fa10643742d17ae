import 'reflect-metadata';
import path from 'node:path';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { buildRegistry } from './providers/index.js';
import { startSandboxes, type RunningSandboxes } from './sandboxes/index.js';
import { loadOrCreateDevSecret, signToken } from './server/auth.js';
import { createLogger } from './server/logger.js';
import { startTracing } from './server/tracing.js';
import { DEFAULT_POLLING } from './status/poller.js';
import { openStore } from './store/open.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  // First, so everything after runs with the tracer the OTEL_* variables ask for (the no-op one unless they do).
  const tracing = await startTracing();
  const log = createLogger(config.logLevel);
  if (tracing) log.info('tracing: spans are exported as the OTEL_* variables say');
  const store = await openStore(config, { onListenError: (error) => log.warn({ err: error }, 'lost the connection that listens for new events; reconnecting') });

  const owners = { defaultTenant: config.defaultTenant, accounts: config.accountTenants };
  let sandboxes: RunningSandboxes | undefined;
  let registry;
  let url: string | undefined;
  if (config.mode === 'sandbox') {
    sandboxes = await startSandboxes({
      stepMs: config.sandbox.stepMs,
      stateDir: path.join(path.dirname(config.dbPath), 'sandboxes'),
      // The sandboxes deliver signed webhooks to this server, as the real providers would.
      webhookBase: () => url?.replace('://0.0.0.0', '://127.0.0.1').replace('://localhost', '://127.0.0.1'),
    });
    registry = buildRegistry(sandboxes.connections, 'SANDBOX', config.providerTimeoutMs, owners, log, { limits: config.providerLimits });
  } else {
    registry = buildRegistry(config.live, 'LIVE', config.providerTimeoutMs, owners, log, { limits: config.providerLimits });
  }
  const jwt = { secret: config.jwt.secret ?? loadOrCreateDevSecret(config.dbPath), issuer: config.jwt.issuer, audience: config.jwt.audience };
  const app = await createApp({
    store,
    providers: registry,
    jwt,
    log,
    polling: DEFAULT_POLLING,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    metricsToken: config.metricsToken,
  });
  url = await app.listen(config.port, config.host);
  log.info({ url: `${url}/graphql`, mode: config.mode, providers: registry.all().map((p) => p.adapter.provider) }, 'giftgraph is serving');

  if (config.mode === 'sandbox') {
    const token = await signToken(jwt, { subject: 'developer', tenant: config.defaultTenant, scope: 'orders:read orders:write orders:cancel', ttlSeconds: 12 * 3600 });
    process.stdout.write(sandboxBanner(url, token));
  }

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app.stop();
    await sandboxes?.close();
    // What is still buffered is exported before the process ends.
    await tracing?.shutdown().catch((error: unknown) => log.warn({ err: error }, 'could not export the last spans'));
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

function sandboxBanner(url: string, token: string): string {
  const query = `mutation { sendGifts(input: { provider: GUUSTO, idempotencyKey: "demo-1", message: "Thank you!", amount: { amount: "25", currency: "CAD" }, recipients: [{ email: "ada@example.com", firstName: "Ada" }] }) { order { id status ... on GuustoOrder { requestId } } } }`;
  return [
    '',
    `giftgraph is running in sandbox mode at ${url}/graphql (subscriptions: ${url.replace(/^http/, 'ws')}/ws)`,
    'Every provider is a built-in sandbox on a loopback port; gifts reach their final state in about ten seconds.',
    '',
    'A development token for the default tenant, with every scope (valid 12 hours; `npm run -s token` prints more):',
    token,
    '',
    'Send a gift:',
    `curl -s ${url}/graphql -H 'content-type: application/json' -H "authorization: Bearer ${token}" \\`,
    `  -d '${JSON.stringify({ query })}'`,
    '',
  ].join('\n');
}

main().catch((error) => {
  process.stderr.write(`giftgraph failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
