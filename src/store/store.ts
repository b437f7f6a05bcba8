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

/** One encrypted version of a vault secret (see src/vault); never holds a plaintext value. */
export interface SecretVersionRecord {
  name: string;
  /** 1, 2, …; the highest is the current value, older ones are kept for audit. */
  version: number;
  /** Id of the master key that wrapped `wrappedKey`. */
  keyId: string;
  /** The version's data key, AES-256-GCM-encrypted under the master key (ciphertext + tag). */
  wrappedKey: Buffer;
  keyNonce: Buffer;
  valueNonce: Buffer;
  /** The value, AES-256-GCM-encrypted under the data key (ciphertext + tag). */
  ciphertext: Buffer;
  createdAt: Date;
}

export type NewSecretVersion = Omit<SecretVersionRecord, 'createdAt'>;

/** A known value encrypted under the master key when the vault was created; proves a key is the right one. */
export interface VaultCheckRecord {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  createdAt: Date;
}

export type NewVaultCheck = Omit<VaultCheckRecord, 'createdAt'>;

export interface SecretSummary {
  name: string;
  versions: number;
  latestVersion: number;
  /** When version 1 was written. */
  createdAt: Date;
  /** When the latest version was written. */
  updatedAt: Date;
  /** The master key id of the latest version. */
  keyId: string;
}

export interface SecretRepository {
  vaultCheck(): Promise<VaultCheckRecord | undefined>;
  /** Stores `check` unless a check record exists; returns whichever record the store holds. */
  initVaultCheck(check: NewVaultCheck): Promise<VaultCheckRecord>;
  /** The highest version of `name`. */
  latest(name: string): Promise<SecretVersionRecord | undefined>;
  /** Every version of `name`, oldest first. */
  versions(name: string): Promise<SecretVersionRecord[]>;
  /** `undefined` when `(name, version)` already exists (a concurrent writer got there first). */
  insert(version: NewSecretVersion): Promise<SecretVersionRecord | undefined>;
  /** One entry per secret, by name. */
  list(): Promise<SecretSummary[]>;
}

export interface Store {
  readonly apiKeys: ApiKeyRepository;
  /** Encrypted vault rows; use src/vault, which encrypts and decrypts, rather than this directly. */
  readonly secrets: SecretRepository;
  readonly kind: 'pglite' | 'postgres';
  /** Resolves when the store answers a trivial query (readiness probes). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
