/**
 * Prints a development token for sandbox mode: `npm run -s token [-- --tenant T --scope "orders:read" --ttl 3600]`.
 * In live mode tokens come from your identity provider, so this refuses.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../src/config.js';
import { loadOrCreateDevSecret, SCOPES, signToken } from '../src/server/auth.js';

const { values } = parseArgs({
  options: {
    tenant: { type: 'string' },
    scope: { type: 'string', default: SCOPES.join(' ') },
    subject: { type: 'string', default: 'developer' },
    ttl: { type: 'string', default: String(12 * 3600) },
  },
});

try {
  const config = loadConfig();
  if (config.mode !== 'sandbox') {
    process.stderr.write('npm run token only signs development tokens in sandbox mode; in live mode use your identity provider.\n');
    process.exit(1);
  }
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new ConfigError(['--ttl must be a positive number of seconds']);
  const jwt = { secret: loadOrCreateDevSecret(config.dbPath), issuer: config.jwt.issuer, audience: config.jwt.audience };
  const token = await signToken(jwt, { subject: values.subject!, tenant: values.tenant ?? config.defaultTenant, scope: values.scope!, ttlSeconds });
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
