/**
 * @module identity/principal
 * Who is on the other end of a connection, after authentication. Every later decision (policy,
 * masking, approvals, audit) keys on this value, never on the raw credential.
 */

export type PrincipalKind = 'workload' | 'human' | 'service';

export interface Principal {
  /** Stable identifier, e.g. `key:8f3c…` for an API key or `oidc:<iss>#<sub>` for a token. */
  readonly id: string;
  readonly kind: PrincipalKind;
  /** Human-readable name for logs and audit (an API key's name, a token's subject). */
  readonly name: string;
  readonly groups: readonly string[];
  /** Verified claims (OIDC) for policy conditions; empty for API keys. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** When the credential stops being valid; live sessions are closed after it. */
  readonly expiresAt: Date | undefined;
}

/**
 * Turns a presented credential (a PostgreSQL password, a bearer token) into a Principal.
 * Returns `undefined` for every kind of failure, so callers cannot leak which check failed:
 * unknown, revoked, expired and malformed credentials are indistinguishable to the caller.
 */
export interface Authenticator {
  authenticate(credential: string): Promise<Principal | undefined>;
}
