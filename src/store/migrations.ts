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
  {
    version: 2,
    name: 'vault',
    sql: `
      -- One row: a known value encrypted under the master key when the vault was created, so a
      -- wrong key is refused when the vault opens instead of failing (or worse) on first use.
      CREATE TABLE sluice.vault_check (
        singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        key_id     text NOT NULL,
        nonce      bytea NOT NULL,
        ciphertext bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      -- Envelope encryption: each version has its own data key, wrapped by the master key.
      -- Versions are never updated; old ones stay for audit.
      CREATE TABLE sluice.secret_versions (
        name        text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_.-]{0,62}$'),
        version     integer NOT NULL CHECK (version > 0),
        key_id      text NOT NULL,
        wrapped_key bytea NOT NULL,
        key_nonce   bytea NOT NULL,
        value_nonce bytea NOT NULL,
        ciphertext  bytea NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, version)
      );
    `,
  },
  {
    version: 3,
    name: 'approvals',
    sql: `
      -- Statement approvals and access requests share one state machine, so they share one table;
      -- the columns of the other kind stay null (the CHECKs below say which are required).
      CREATE TABLE sluice.approval_requests (
        id                 text PRIMARY KEY,
        -- Insertion order, to break created_at ties: PGlite's clock ticks in whole milliseconds.
        seq                bigint GENERATED ALWAYS AS IDENTITY,
        kind               text NOT NULL CHECK (kind IN ('statement', 'access')),
        status             text NOT NULL CHECK (status IN
                             ('pending', 'approved', 'denied', 'expired', 'withdrawn', 'consumed', 'revoked')),
        requester          jsonb NOT NULL,
        -- Derived, so it can never disagree with the requester it indexes.
        requester_id       text GENERATED ALWAYS AS (requester ->> 'id') STORED NOT NULL,
        connection         text NOT NULL,
        policy             text NOT NULL,
        reason             text NOT NULL,
        required_approvals integer NOT NULL CHECK (required_approvals > 0),
        approver_groups    text[] NOT NULL,
        step_up_ms         bigint,
        decisions          jsonb NOT NULL DEFAULT '[]',
        status_reason      text,
        created_at         timestamptz NOT NULL DEFAULT now(),
        expires_at         timestamptz NOT NULL,
        decided_at         timestamptz,
        mode               text CHECK (mode IN ('hold', 'ticket')),
        rule               text,
        statement          text,
        parameters         jsonb,
        redacted_statement text,
        row_estimate       double precision,
        binding_hash       text,
        grant_expires_at   timestamptz,
        consumed_at        timestamptz,
        replica            text,
        duration_ms        bigint,
        break_glass        boolean,
        grant_ends_at      timestamptz,
        CHECK (kind <> 'statement' OR (mode IS NOT NULL AND rule IS NOT NULL AND statement IS NOT NULL
          AND parameters IS NOT NULL AND redacted_statement IS NOT NULL AND binding_hash IS NOT NULL
          AND replica IS NOT NULL)),
        CHECK (kind <> 'access' OR (duration_ms IS NOT NULL AND break_glass IS NOT NULL))
      );
      -- Ticket lookups run on every statement that needs review; only approved rows can match.
      CREATE INDEX approval_requests_grant_idx ON sluice.approval_requests (binding_hash)
        WHERE status = 'approved';
      -- Active access checks, and listing one principal's requests.
      CREATE INDEX approval_requests_requester_idx ON sluice.approval_requests (requester_id, connection);
      CREATE INDEX approval_requests_created_idx ON sluice.approval_requests (created_at DESC, seq DESC);
    `,
  },
  {
    version: 4,
    name: 'audit',
    sql: `
      -- The hash-chained audit log (see src/audit/chain.ts). Append only; seq is 1, 2, … without
      -- gaps, and the primary key refuses a second record at a seq, so two writers can never fork
      -- the chain. A hash covers the exact 'at' string and event value: timestamptz keeps an
      -- instant, not its spelling, and jsonb rewrites JSON (key order, number forms) and refuses
      -- the NUL character, so both are kept as the text given; 'at' also as timestamptz, to
      -- select by time.
      CREATE TABLE sluice.audit_events (
        seq       bigint PRIMARY KEY CHECK (seq > 0),
        at        timestamptz NOT NULL,
        at_text   text NOT NULL,
        type      text NOT NULL,
        event     text NOT NULL,
        prev_hash text NOT NULL,
        hash      text NOT NULL
      );
      CREATE INDEX audit_events_at_idx ON sluice.audit_events (at);
      -- Signed statements that the chain ended at (seq, hash): what a verifier trusts.
      CREATE TABLE sluice.audit_checkpoints (
        seq       bigint PRIMARY KEY,
        hash      text NOT NULL,
        at        text NOT NULL,
        key_id    text NOT NULL,
        signature text NOT NULL
      );
      -- The public halves of the checkpoint signing keys; the private halves never enter the store.
      CREATE TABLE sluice.audit_keys (
        key_id     text PRIMARY KEY,
        public_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 5,
    name: 'audit_at_brin',
    sql: `
      -- Every audit event is an insert, and a B-tree on its time cost a quarter of each one. The
      -- log is written in time order, so a BRIN index (a few bytes per block range, maintained
      -- almost for free) serves the same "since" ranges.
      DROP INDEX sluice.audit_events_at_idx;
      CREATE INDEX audit_events_at_brin ON sluice.audit_events USING brin (at);
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
