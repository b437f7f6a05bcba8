/**
 * @module vault/vault
 * Upstream secrets, encrypted in the store (see `envelope.ts` for the cryptography). This is the
 * service the gateway, the CLI and the admin API call; none of them touches rows or keys.
 *
 * @example
 * const vault = await openVault(store, (await resolveMasterKey(undefined)).key);
 * await vault.set('app-db', 's3cret');        // version 1
 * await vault.rotate('app-db', 'n3w-s3cret'); // version 2
 * await vault.get('app-db');                  // 'n3w-s3cret'
 */
import { timingSafeEqual } from 'node:crypto';
import type { SecretVault } from '../config/secret-ref.ts';
import type { SecretSummary, SecretVersionRecord, Store } from '../store/store.ts';
import {
  AuthenticationFailure,
  CHECK_PLAINTEXT,
  checkAad,
  KEY_BYTES,
  masterKeyId,
  seal,
  sealSecret,
  unseal,
  unsealSecret,
} from './envelope.ts';
import { VaultError } from './errors.ts';
import { assertSecretName } from './secret-name.ts';

/** Largest value accepted, in UTF-8 bytes; these are passwords and tokens, not files. */
export const MAX_SECRET_BYTES = 64 * 1024;

/** What may be shown about a secret: everything except its value (the store never returns one in a summary). */
export type SecretInfo = SecretSummary;

export interface SecretVersionInfo {
  version: number;
  createdAt: Date;
  keyId: string;
}

export interface Vault extends SecretVault {
  /** Id of the master key this vault was opened with (and created with). */
  readonly keyId: string;
  /** Creates `name` at version 1. Refuses (`already_exists`) when it exists: use {@link rotate}. */
  set(name: string, value: string): Promise<number>;
  /** The latest version's value. Refuses (`not_found`, `tampered`) rather than return anything unverified. */
  get(name: string): Promise<string>;
  /** Adds a new version that {@link get} returns from now on; older ones are kept but never returned. */
  rotate(name: string, value: string): Promise<number>;
  /** Every secret, by name; never values. */
  list(): Promise<SecretInfo[]>;
  /** The versions of one secret, oldest first; never values. */
  history(name: string): Promise<SecretVersionInfo[]>;
}

export interface OpenVaultOptions {
  /** Where the key came from (`SLUICE_MASTER_KEY`, `file:PATH`), for the wrong-key message. */
  readonly source?: string;
}

/** Concurrent rotations of one secret retry this many times before giving up. */
const WRITE_ATTEMPTS = 5;

/**
 * Opens the store's vault with `masterKey` (32 bytes). The first open of a store creates the
 * vault's check record under this key; every later open must use the same key.
 * @throws VaultError `wrong_master_key` naming the key id the vault expects; `invalid_master_key`
 *   for a key of the wrong length.
 */
export async function openVault(
  store: Store,
  masterKey: Buffer,
  options: OpenVaultOptions = {},
): Promise<Vault> {
  if (masterKey.length !== KEY_BYTES) {
    throw new VaultError(
      'invalid_master_key',
      `the master key must be ${KEY_BYTES} bytes, got ${masterKey.length}`,
    );
  }
  const key = Buffer.from(masterKey);
  const keyId = masterKeyId(key);
  const from = options.source ? ` (from ${options.source})` : '';
  let check = await store.secrets.vaultCheck();
  if (!check) {
    const sealed = seal(key, CHECK_PLAINTEXT, checkAad(keyId));
    check = await store.secrets.initVaultCheck({ keyId, ...sealed });
  }
  const wrongKey = (): VaultError =>
    new VaultError(
      'wrong_master_key',
      `wrong master key: this store's vault was created with master key id ${check.keyId}, ` +
        `but the key given${from} has id ${keyId}; supply the master key with id ${check.keyId}`,
    );
  if (check.keyId !== keyId) throw wrongKey();
  let plaintext: Buffer;
  try {
    plaintext = unseal(key, check, checkAad(keyId));
  } catch (error) {
    if (error instanceof AuthenticationFailure) {
      // Same id, yet the record does not open: it was altered (an id collision is 2^-64 unlikely).
      throw new VaultError(
        'tampered',
        `the vault check record does not authenticate under master key id ${keyId}${from}: ` +
          'the store was altered; refusing to open the vault',
      );
    }
    throw error;
  }
  if (plaintext.length !== CHECK_PLAINTEXT.length || !timingSafeEqual(plaintext, CHECK_PLAINTEXT)) {
    throw wrongKey();
  }
  return new StoreVault(store, key, keyId);
}

function encodeValue(name: string, value: string): Buffer {
  if (value === '') throw new VaultError('invalid_value', `secret "${name}": the value is empty`);
  if (value.includes('\0')) {
    throw new VaultError('invalid_value', `secret "${name}": the value contains a NUL character`);
  }
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > MAX_SECRET_BYTES) {
    bytes.fill(0);
    throw new VaultError(
      'invalid_value',
      `secret "${name}": the value is longer than ${MAX_SECRET_BYTES} bytes`,
    );
  }
  return bytes;
}

class StoreVault implements Vault {
  readonly keyId: string;
  readonly #store: Store;
  readonly #key: Buffer;

  constructor(store: Store, key: Buffer, keyId: string) {
    this.#store = store;
    this.#key = key;
    this.keyId = keyId;
  }

  async set(name: string, value: string): Promise<number> {
    assertSecretName(name);
    const bytes = encodeValue(name, value);
    try {
      const existing = await this.#store.secrets.latest(name);
      const written = existing ? undefined : await this.#write(name, 1, bytes);
      if (!written) {
        throw new VaultError(
          'already_exists',
          `secret "${name}" already exists; use rotate to give it a new value`,
        );
      }
      return written.version;
    } finally {
      bytes.fill(0);
    }
  }

  async rotate(name: string, value: string): Promise<number> {
    assertSecretName(name);
    const bytes = encodeValue(name, value);
    try {
      for (let attempt = 0; attempt < WRITE_ATTEMPTS; attempt += 1) {
        const latest = await this.#store.secrets.latest(name);
        if (!latest) throw notFound(name);
        // The version is part of the ciphertext's AAD, so a lost race re-encrypts for the next one.
        const written = await this.#write(name, latest.version + 1, bytes);
        if (written) return written.version;
      }
      throw new VaultError('already_exists', `secret "${name}" is being rotated concurrently; try again`);
    } finally {
      bytes.fill(0);
    }
  }

  async get(name: string): Promise<string> {
    assertSecretName(name);
    const row = await this.#store.secrets.latest(name);
    if (!row) throw notFound(name);
    return this.#open(row);
  }

  async list(): Promise<SecretInfo[]> {
    return (await this.#store.secrets.list()).map((summary) => ({ ...summary }));
  }

  async history(name: string): Promise<SecretVersionInfo[]> {
    assertSecretName(name);
    const rows = await this.#store.secrets.versions(name);
    if (rows.length === 0) throw notFound(name);
    return rows.map(({ version, createdAt, keyId }) => ({ version, createdAt, keyId }));
  }

  #write(name: string, version: number, value: Buffer): Promise<SecretVersionRecord | undefined> {
    const sealed = sealSecret(this.#key, this.keyId, name, version, value);
    return this.#store.secrets.insert({ name, version, keyId: this.keyId, ...sealed });
  }

  #open(row: SecretVersionRecord): string {
    const label = `secret "${row.name}" version ${row.version}`;
    if (row.keyId !== this.keyId) {
      throw new VaultError(
        'wrong_master_key',
        `${label} is encrypted under master key id ${row.keyId}, not this vault's key ${this.keyId}`,
      );
    }
    let plaintext: Buffer;
    try {
      plaintext = unsealSecret(this.#key, this.keyId, row.name, row.version, row);
    } catch (error) {
      if (!(error instanceof AuthenticationFailure)) throw error;
      throw new VaultError(
        'tampered',
        `${label} failed authentication (its row was altered or swapped with another); refusing to use it`,
      );
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
    } finally {
      plaintext.fill(0);
    }
  }
}

function notFound(name: string): VaultError {
  return new VaultError(
    'not_found',
    `no secret named "${name}" in the vault; create it with: sluice secrets set ${name}`,
  );
}
