import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { GiftgraphError, unauthenticated } from '../core/errors.js';
import type { Viewer } from '../resolvers/access.js';

export { ADMIN_SCOPE, SCOPES, type Scope, type Viewer } from '../resolvers/access.js';

export interface JwtSettings {
  secret: Uint8Array;
  issuer: string;
  audience: string;
}

const TENANT = /^[A-Za-z0-9_.-]{1,64}$/;

const MAX_CACHED_TOKENS = 10_000;

/**
 * Verifies `Authorization: Bearer <JWT>` (HS256) into a Viewer, or says exactly why not.
 * A verified token is remembered until it expires: a client sends the same token with every
 * request, and verifying it again would only repeat the same answer.
 */
export class TokenVerifier {
  private readonly verified = new Map<string, Viewer>();

  constructor(private readonly settings: JwtSettings) {}

  async verify(authorization: string | undefined | null): Promise<Viewer> {
    if (!authorization) throw unauthenticated('Missing Authorization: Bearer <token> header');
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>"');
    const token = match[1]!;
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAt * 1000 > Date.now()) return known;
      this.verified.delete(token);
      throw unauthenticated('The token has expired');
    }
    const viewer = await this.verifyToken(token);
    if (this.verified.size >= MAX_CACHED_TOKENS) this.verified.clear();
    this.verified.set(token, viewer);
    return viewer;
  }

  private async verifyToken(token: string): Promise<Viewer> {
    try {
      const { payload } = await jwtVerify(token, this.settings.secret, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'exp'],
      });
      const tenant = payload.tenant;
      if (typeof tenant !== 'string' || !TENANT.test(tenant)) throw unauthenticated('The token has no valid tenant claim');
      const scope = typeof payload.scope === 'string' ? payload.scope : '';
      return { subject: payload.sub!, tenant, scopes: new Set(scope.split(' ').filter(Boolean)), expiresAt: payload.exp! };
    } catch (error) {
      if (error instanceof GiftgraphError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('The token has expired');
      throw unauthenticated('The token is not valid');
    }
  }
}

export async function signToken(settings: JwtSettings, claims: { subject: string; tenant: string; scope: string; ttlSeconds: number }): Promise<string> {
  return new SignJWT({ tenant: claims.tenant, scope: claims.scope })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(`${claims.ttlSeconds}s`)
    .sign(settings.secret);
}

/**
 * The local development secret of sandbox mode: random, created once beside the database with
 * owner-only permissions, shared by the server and `npm run token`.
 */
export function loadOrCreateDevSecret(dbPath: string): Uint8Array {
  const file = path.join(path.dirname(dbPath), 'dev-jwt-secret');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    try {
      fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  return new TextEncoder().encode(fs.readFileSync(file, 'utf8').trim());
}
