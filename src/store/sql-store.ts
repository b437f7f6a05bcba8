/**
 * @module store/sql-store
 * Assembles a {@link Store} from a migrated {@link SqlExecutor}; the same code for both backends.
 */
import type { Logger } from '../core/logger.ts';
import { SqlApiKeyRepository } from './api-key-repository.ts';
import { SqlApprovalRepository } from './approval-repository.ts';
import { SqlAuditRepository } from './audit-repository.ts';
import { migrate } from './migrations.ts';
import { SqlSecretRepository } from './secret-repository.ts';
import type { SqlExecutor } from './sql-executor.ts';
import type { AuditRepository, Store } from './store.ts';

export interface SqlStoreOptions {
  /** Runs once the connection is closed (the PGlite store releases its lock file there). */
  readonly afterClose?: () => Promise<void>;
  /** The audit log's repository, when appends run somewhere else (the store worker). */
  readonly audit?: AuditRepository;
}

/** Migrates `db` and wraps it. On failure `db` is closed (and `afterClose` run) before the error propagates. */
export async function openSqlStore(
  db: SqlExecutor,
  kind: Store['kind'],
  logger: Logger,
  { afterClose = async () => {}, audit = new SqlAuditRepository(db) }: SqlStoreOptions = {},
): Promise<Store> {
  try {
    await migrate(db, logger);
  } catch (error) {
    await db.close().catch(() => {});
    await afterClose();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    kind,
    apiKeys: new SqlApiKeyRepository(db),
    secrets: new SqlSecretRepository(db),
    approvals: new SqlApprovalRepository(db),
    audit,
    ping: async () => {
      await db.query('SELECT 1');
    },
    // Idempotent: shutdown paths (signal handler, test teardown) may both call it.
    close: () => {
      closing ??= db.close().finally(afterClose);
      return closing;
    },
  };
}
