/**
 * Prints a token the server accepts: `npm run -s token [-- --tenant T --scope "orders:read" --ttl 3600]`.
 * It signs with the secret the server uses: GIFTGRAPH_JWT_SECRET when it is set, else the development
 * secret kept beside GIFTGRAPH_DB (data/dev-jwt-secret). The default scopes are a client's;
 * `--scope "orders:read orders:admin"` asks for the operators' scope too.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../src/config.js';
import { ADMIN_SCOPE, loadOrCreateDevSecret, SCOPES, signToken } from '../src/server/auth.js';

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
  const ttlSeconds = Number(values.ttl);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) throw new ConfigError(['--ttl must be a positive number of seconds']);
  const known = new Set<string>([...SCOPES, ADMIN_SCOPE]);
  const unknown = values.scope!.split(/\s+/).filter((s) => s && !known.has(s));
  if (unknown.length > 0) throw new ConfigError([`--scope names scopes the server does not know: ${unknown.join(', ')} (known: ${[...known].join(' ')})`]);
  const jwt = { secret: config.jwt.secret ?? loadOrCreateDevSecret(config.dbPath), issuer: config.jwt.issuer, audience: config.jwt.audience };
  const token = await signToken(jwt, { subject: values.subject!, tenant: values.tenant ?? config.defaultTenant, scope: values.scope!, ttlSeconds });
  process.stdout.write(`${token}\n`);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
