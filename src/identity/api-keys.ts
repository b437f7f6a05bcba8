/**
 * @module identity/api-keys
 * API keys for non-human callers: `slk_` + 256 random bits. The store keeps only a SHA-256 of the
 * key, a short display prefix and metadata; the key is shown once, at creation.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { GatewayError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import type { ApiKeyRecord, Store } from '../store/store.ts';
import type { Authenticator, Principal } from './principal.ts';

export const API_KEY_PREFIX = 'slk_';

/** `slk_` + base64url of 32 bytes (43 characters, no padding). */
export const API_KEY_PATTERN = /^slk_[A-Za-z0-9_-]{43}$/;

/** Characters of the key kept for display (`slk_` + 8): enough to tell keys apart, far too few to guess. */
const DISPLAY_PREFIX_LENGTH = 12;

/**
 * A use is written back at most this often per key: every connection would otherwise be a write
 * on the store, and "last used" is for humans deciding what to revoke, not for auditing.
 */
const TOUCH_INTERVAL_MS = 60_000;

export interface GeneratedApiKey {
  key: string;
  id: string;
  prefix: string;
  hash: string;
}

/**
 * Plain SHA-256 rather than a slow KDF (scrypt, argon2): those exist to make guessing
 * low-entropy passwords expensive. A 256-bit random key cannot be guessed, so one fast hash is as
 * strong, and keeps authentication cheap on the connection hot path.
 */
function sha256(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

export function hashApiKey(key: string): string {
  return sha256(key).toString('hex');
}

export function generateApiKey(): GeneratedApiKey {
  const key = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return {
    key,
    id: `ak_${randomBytes(8).toString('hex')}`,
    prefix: key.slice(0, DISPLAY_PREFIX_LENGTH),
    hash: hashApiKey(key),
  };
}

const label = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters from A-Z a-z 0-9 . _ -');

const createInput = z.object({
  name: label,
  groups: z.array(label).transform((groups) => [...new Set(groups)]),
  expiresInMs: z.number().int().positive().optional(),
});

export interface CreateApiKeyInput {
  name: string;
  groups: readonly string[];
  /** Omitted: the key never expires. */
  expiresInMs?: number | undefined;
  now?: Date;
}

/**
 * Validates, generates and stores a key. The plaintext `key` exists only in the return value.
 * @throws GatewayError GW_ERR_CONFIG for an invalid name, group or lifetime; GW_ERR_STORE for a
 *   name already used by a non-revoked key.
 */
export async function createApiKey(
  store: Store,
  input: CreateApiKeyInput,
): Promise<{ record: ApiKeyRecord; key: string }> {
  const parsed = createInput.safeParse({
    name: input.name,
    groups: input.groups,
    expiresInMs: input.expiresInMs,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
    throw new GatewayError('GW_ERR_CONFIG', `invalid API key: ${problems.join('; ')}`);
  }
  const { name, groups, expiresInMs } = parsed.data;
  const now = input.now ?? new Date();
  const { key, id, prefix, hash } = generateApiKey();
  const record = await store.apiKeys.create({
    id,
    name,
    prefix,
    hash,
    groups,
    expiresAt: expiresInMs === undefined ? null : new Date(now.getTime() + expiresInMs),
  });
  return { record, key };
}

export function isRevokedOrExpired(record: ApiKeyRecord, now: Date): boolean {
  return (
    record.revokedAt !== null || (record.expiresAt !== null && record.expiresAt.getTime() <= now.getTime())
  );
}

const PRINCIPAL_ID_PREFIX = 'key:';

export class ApiKeyAuthenticator implements Authenticator {
  readonly #store: Store;
  readonly #clock: () => Date;
  readonly #logger: Logger;

  constructor(store: Store, clock: () => Date = () => new Date(), logger: Logger = silentLogger) {
    this.#store = store;
    this.#clock = clock;
    this.#logger = logger;
  }

  async authenticate(credential: string): Promise<Principal | undefined> {
    // Every path hashes and queries, garbage included, so the response time does not tell a caller
    // whether the shape, the lookup, the revocation or the expiry check failed.
    const wellFormed = API_KEY_PATTERN.test(credential);
    const computed = sha256(credential);
    const record = await this.#store.apiKeys.findByHash(computed.toString('hex'));
    // The lookup matched on the hash already; comparing again in constant time means acceptance
    // never rests on how a store compares strings (collations, index lookups).
    const stored = record ? Buffer.from(record.hash, 'hex') : Buffer.alloc(computed.length);
    const hashMatches = stored.length === computed.length && timingSafeEqual(stored, computed);
    const now = this.#clock();
    if (!wellFormed || !record || !hashMatches || isRevokedOrExpired(record, now)) return undefined;

    if (record.lastUsedAt === null || now.getTime() - record.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
      // Not awaited: recording the use must not delay or fail the connection.
      this.#store.apiKeys
        .touch(record.id, now)
        .catch((error: unknown) =>
          this.#logger.warn({ err: error, keyId: record.id }, 'API key touch failed'),
        );
    }
    return {
      id: PRINCIPAL_ID_PREFIX + record.id,
      kind: 'service',
      name: record.name,
      groups: record.groups,
      claims: {},
      expiresAt: record.expiresAt ?? undefined,
    };
  }

  /**
   * Whether the key behind a principal from {@link authenticate} is still usable, for a sweeper
   * that closes live sessions once their key is revoked or expires. False for other principals.
   */
  async stillValid(principalId: string, now: Date = this.#clock()): Promise<boolean> {
    if (!principalId.startsWith(PRINCIPAL_ID_PREFIX)) return false;
    const record = await this.#store.apiKeys.findById(principalId.slice(PRINCIPAL_ID_PREFIX.length));
    return record !== undefined && !isRevokedOrExpired(record, now);
  }
}
