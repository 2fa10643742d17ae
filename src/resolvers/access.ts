import type { AuthChecker } from 'type-graphql';
import { forbidden, type GiftgraphError, unauthenticated } from '../core/errors.js';

/** The scopes a client works with; a development token has all of them. */
export const SCOPES = ['orders:read', 'orders:write', 'orders:cancel'] as const;
/** For operators: settling UNCONFIRMED outcomes. No development token has it unless asked for. */
export const ADMIN_SCOPE = 'orders:admin';
export type Scope = (typeof SCOPES)[number] | typeof ADMIN_SCOPE;

/** Who is asking: from a verified token, never from anything else the client sends. */
export interface Viewer {
  subject: string;
  tenant: string;
  scopes: ReadonlySet<string>;
  /** When the token stops being valid, in epoch seconds. */
  expiresAt: number;
}

export interface AuthContext {
  viewer: Viewer | null;
  /** Why there is no viewer, when a token was sent but failed. */
  authError: GiftgraphError | null;
}

/** Returns the viewer when it holds `scope`; otherwise UNAUTHENTICATED or FORBIDDEN. */
export function requireScope(context: AuthContext, scope: Scope): Viewer {
  const viewer = context.viewer;
  if (!viewer) throw context.authError ?? unauthenticated();
  if (viewer.expiresAt * 1000 <= Date.now()) throw unauthenticated('The token has expired');
  if (!viewer.scopes.has(scope)) throw forbidden(scope);
  return viewer;
}

/** type-graphql's @Authorized("orders:read") runs through here. */
export const authChecker: AuthChecker<AuthContext> = ({ context }, scopes) => {
  for (const scope of scopes) requireScope(context, scope as Scope);
  return true;
};
