/**
 * @module identity/composite-authenticator
 * One credential slot (the PostgreSQL password, an HTTP bearer token) carries either a Sluice API
 * key or an OIDC token. Routing is by shape, and every shape nobody recognises still goes through
 * the API key path, so garbage costs the same work as a wrong key and fails the same way.
 */
import { looksLikeJwt } from './oidc.ts';
import type { Authenticator, Principal } from './principal.ts';

export interface CredentialValidity {
  /** Whether a principal authenticated earlier may keep its live sessions. */
  stillValid(principal: Principal, now: Date): Promise<boolean>;
}

export interface AuthenticatorRoutes {
  readonly apiKeys: Authenticator & { stillValid(principalId: string, now?: Date): Promise<boolean> };
  readonly oidc?: Authenticator | undefined;
}

export class CompositeAuthenticator implements Authenticator, CredentialValidity {
  readonly #routes: AuthenticatorRoutes;

  constructor(routes: AuthenticatorRoutes) {
    this.#routes = routes;
  }

  authenticate(credential: string): Promise<Principal | undefined> {
    const { oidc, apiKeys } = this.#routes;
    if (oidc && !credential.startsWith('slk_') && looksLikeJwt(credential))
      return oidc.authenticate(credential);
    return apiKeys.authenticate(credential);
  }

  /**
   * Tokens are self-contained: valid until they expire. API keys can be revoked at any time, so
   * they are looked up again.
   */
  async stillValid(principal: Principal, now: Date): Promise<boolean> {
    if (principal.expiresAt && principal.expiresAt.getTime() <= now.getTime()) return false;
    if (principal.id.startsWith('key:')) return this.#routes.apiKeys.stillValid(principal.id, now);
    return true;
  }
}
