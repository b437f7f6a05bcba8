/**
 * @module store/secret-repository
 * Vault rows in `sluice.secret_versions` and `sluice.vault_check`, written once against
 * {@link SqlExecutor} for both backends. Only ciphertext, nonces and wrapped keys pass through
 * here: the vault (src/vault) encrypts before it calls this and decrypts after.
 */
import { GatewayError } from '../core/errors.ts';
import type { SqlExecutor } from './sql-executor.ts';
import type {
  NewSecretVersion,
  NewVaultCheck,
  SecretRepository,
  SecretSummary,
  SecretVersionRecord,
  VaultCheckRecord,
} from './store.ts';

/** A `sluice.secret_versions` row as the driver returns it (tests read raw rows to tamper with them). */
export interface SecretVersionRow {
  name: string;
  version: number;
  key_id: string;
  wrapped_key: Uint8Array;
  key_nonce: Uint8Array;
  value_nonce: Uint8Array;
  ciphertext: Uint8Array;
  created_at: Date;
}

interface VaultCheckRow {
  key_id: string;
  nonce: Uint8Array;
  ciphertext: Uint8Array;
  created_at: Date;
}

interface SummaryRow {
  name: string;
  versions: number;
  latest_version: number;
  created_at: Date;
  updated_at: Date;
  key_id: string;
}

const VERSION_COLUMNS = 'name, version, key_id, wrapped_key, key_nonce, value_nonce, ciphertext, created_at';

/** pg hands bytea back as a Buffer, PGlite as a Uint8Array: callers always get a Buffer. */
const bytes = (value: Uint8Array): Buffer => Buffer.from(value);

function toVersion(row: SecretVersionRow): SecretVersionRecord {
  return {
    name: row.name,
    version: row.version,
    keyId: row.key_id,
    wrappedKey: bytes(row.wrapped_key),
    keyNonce: bytes(row.key_nonce),
    valueNonce: bytes(row.value_nonce),
    ciphertext: bytes(row.ciphertext),
    createdAt: row.created_at,
  };
}

function toCheck(row: VaultCheckRow): VaultCheckRecord {
  return {
    keyId: row.key_id,
    nonce: bytes(row.nonce),
    ciphertext: bytes(row.ciphertext),
    createdAt: row.created_at,
  };
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '23505';
}

export class SqlSecretRepository implements SecretRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async vaultCheck(): Promise<VaultCheckRecord | undefined> {
    const [row] = await this.#db.query<VaultCheckRow>(
      'SELECT key_id, nonce, ciphertext, created_at FROM sluice.vault_check',
    );
    return row && toCheck(row);
  }

  async initVaultCheck(check: NewVaultCheck): Promise<VaultCheckRecord> {
    // Replicas opening a new vault together: the first insert wins and everyone reads it back.
    await this.#db.query(
      `INSERT INTO sluice.vault_check (key_id, nonce, ciphertext) VALUES ($1, $2, $3)
       ON CONFLICT (singleton) DO NOTHING`,
      [check.keyId, check.nonce, check.ciphertext],
    );
    const stored = await this.vaultCheck();
    if (!stored) throw new GatewayError('GW_ERR_STORE', 'the vault check record vanished after its insert');
    return stored;
  }

  async latest(name: string): Promise<SecretVersionRecord | undefined> {
    const [row] = await this.#db.query<SecretVersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM sluice.secret_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`,
      [name],
    );
    return row && toVersion(row);
  }

  async versions(name: string): Promise<SecretVersionRecord[]> {
    const rows = await this.#db.query<SecretVersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM sluice.secret_versions WHERE name = $1 ORDER BY version`,
      [name],
    );
    return rows.map(toVersion);
  }

  async insert(version: NewSecretVersion): Promise<SecretVersionRecord | undefined> {
    try {
      const [row] = await this.#db.query<SecretVersionRow>(
        `INSERT INTO sluice.secret_versions
           (name, version, key_id, wrapped_key, key_nonce, value_nonce, ciphertext)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${VERSION_COLUMNS}`,
        [
          version.name,
          version.version,
          version.keyId,
          version.wrappedKey,
          version.keyNonce,
          version.valueNonce,
          version.ciphertext,
        ],
      );
      if (!row) throw new GatewayError('GW_ERR_STORE', 'INSERT … RETURNING returned no row');
      return toVersion(row);
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  async list(): Promise<SecretSummary[]> {
    const rows = await this.#db.query<SummaryRow>(
      `SELECT s.name, s.versions, s.latest_version, s.created_at, s.updated_at, v.key_id
       FROM (SELECT name, count(*)::integer AS versions, max(version) AS latest_version,
                    min(created_at) AS created_at, max(created_at) AS updated_at
             FROM sluice.secret_versions GROUP BY name) s
       JOIN sluice.secret_versions v ON v.name = s.name AND v.version = s.latest_version
       ORDER BY s.name`,
    );
    return rows.map((row) => ({
      name: row.name,
      versions: row.versions,
      latestVersion: row.latest_version,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      keyId: row.key_id,
    }));
  }
}
