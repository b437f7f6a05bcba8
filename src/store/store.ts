/**
 * @module store/store
 * The gateway's own state (API keys today; grants, approvals, audit later). One interface, two
 * backends: embedded PGlite for a single process and PostgreSQL for replicas sharing one store.
 * Both run the same SQL (see `sql-store.ts`), so a behaviour seen in one is the behaviour of both.
 */

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The first characters of the key, for display and per-prefix backoff; not a secret. */
  prefix: string;
  /** SHA-256 hex of the full key; the key itself is never stored. */
  hash: string;
  groups: string[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface NewApiKey {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  groups: string[];
  expiresAt: Date | null;
}

export interface ApiKeyRepository {
  /** Fails with GW_ERR_STORE when a non-revoked key already has this name. */
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  findById(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, revoked and expired included, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /**
   * Revokes the key with this id, or else the non-revoked key with this name. Revoking an already
   * revoked key by id keeps its original `revokedAt`. `undefined` when nothing matches.
   */
  revoke(idOrName: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use; never moves `lastUsedAt` backwards. Best effort: callers need not await it. */
  touch(id: string, at: Date): Promise<void>;
}

export interface Store {
  readonly apiKeys: ApiKeyRepository;
  readonly kind: 'pglite' | 'postgres';
  /** Resolves when the store answers a trivial query (readiness probes). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
