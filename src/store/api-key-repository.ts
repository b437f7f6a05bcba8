/**
 * @module store/api-key-repository
 * API keys in `sluice.api_keys`, written once against {@link SqlExecutor} for both backends.
 */
import { GatewayError } from '../core/errors.ts';
import type { SqlExecutor } from './sql-executor.ts';
import type { ApiKeyRecord, ApiKeyRepository, NewApiKey } from './store.ts';

interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  groups: string[];
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

const COLUMNS = 'id, name, prefix, hash, groups, created_at, expires_at, revoked_at, last_used_at';

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    groups: row.groups,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
  };
}

/** Both pg and PGlite surface the server's ErrorResponse fields on the thrown error. */
function isUniqueViolation(error: unknown, constraint: string): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    error.code === '23505' &&
    'constraint' in error &&
    error.constraint === constraint
  );
}

export class SqlApiKeyRepository implements ApiKeyRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    try {
      const [row] = await this.#db.query<ApiKeyRow>(
        `INSERT INTO sluice.api_keys (id, name, prefix, hash, groups, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [key.id, key.name, key.prefix, key.hash, key.groups, key.expiresAt],
      );
      if (!row) throw new GatewayError('GW_ERR_STORE', 'INSERT … RETURNING returned no row');
      return toRecord(row);
    } catch (error) {
      if (isUniqueViolation(error, 'api_keys_active_name_key')) {
        throw new GatewayError(
          'GW_ERR_STORE',
          `an API key named "${key.name}" already exists; revoke it first or choose another name`,
        );
      }
      throw error;
    }
  }

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.#one(`SELECT ${COLUMNS} FROM sluice.api_keys WHERE hash = $1`, [hash]);
  }

  async findById(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#one(`SELECT ${COLUMNS} FROM sluice.api_keys WHERE id = $1`, [id]);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.#db.query<ApiKeyRow>(
      `SELECT ${COLUMNS} FROM sluice.api_keys ORDER BY created_at, id`,
    );
    return rows.map(toRecord);
  }

  async revoke(idOrName: string): Promise<ApiKeyRecord | undefined> {
    // An id wins over a name (names may look like ids); one statement, so no race between lookup and update.
    return this.#one(
      `UPDATE sluice.api_keys SET revoked_at = COALESCE(revoked_at, now())
       WHERE id = (SELECT id FROM sluice.api_keys
                   WHERE id = $1 OR (name = $1 AND revoked_at IS NULL)
                   ORDER BY id = $1 DESC LIMIT 1)
       RETURNING ${COLUMNS}`,
      [idOrName],
    );
  }

  async touch(id: string, at: Date): Promise<void> {
    // Concurrent sessions report uses out of order; only ever move forward.
    await this.#db.query(
      `UPDATE sluice.api_keys SET last_used_at = $2
       WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`,
      [id, at],
    );
  }

  async #one(sql: string, params: readonly unknown[]): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.#db.query<ApiKeyRow>(sql, params);
    return row && toRecord(row);
  }
}
