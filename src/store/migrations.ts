/**
 * @module store/migrations
 * The store's schema, as an ordered list of migrations recorded in `sluice.schema_migrations`.
 * Append only: a released migration is never edited, because stores in the field have already run it.
 */
import { GatewayError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { SqlExecutor } from './sql-executor.ts';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api_keys',
    sql: `
      CREATE TABLE sluice.api_keys (
        id           text PRIMARY KEY,
        name         text NOT NULL,
        prefix       text NOT NULL,
        hash         text NOT NULL UNIQUE,
        groups       text[] NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        expires_at   timestamptz,
        revoked_at   timestamptz,
        last_used_at timestamptz
      );
      -- A name is reusable once its key is revoked, so rotation can keep the name.
      CREATE UNIQUE INDEX api_keys_active_name_key ON sluice.api_keys (name) WHERE revoked_at IS NULL;
    `,
  },
];

/** The schema version this code writes and understands. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/**
 * Brings the store to {@link LATEST_SCHEMA_VERSION} in one transaction. Replicas starting together
 * against one PostgreSQL store serialize on a transaction-scoped advisory lock (key: 'sluice' in
 * ASCII), so exactly one applies each migration and the others then find nothing to do; the lock
 * is released by COMMIT or ROLLBACK, never leaked by a crashed process.
 * @throws GatewayError GW_ERR_STORE when the store was migrated by a newer Sluice.
 */
export async function migrate(db: SqlExecutor, logger: Logger): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(x'736c75696365'::bigint)`);
    await tx.exec(`
      CREATE SCHEMA IF NOT EXISTS sluice;
      CREATE TABLE IF NOT EXISTS sluice.schema_migrations (
        version    integer PRIMARY KEY,
        name       text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );
    `);
    const [row] = await tx.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM sluice.schema_migrations',
    );
    const current = row?.version ?? 0;
    if (current > LATEST_SCHEMA_VERSION) {
      throw new GatewayError(
        'GW_ERR_STORE',
        `store schema version ${current} is newer than this sluice supports (${LATEST_SCHEMA_VERSION}); upgrade sluice`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO sluice.schema_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
      logger.info({ version: migration.version, migration: migration.name }, 'store migration applied');
    }
  });
}
