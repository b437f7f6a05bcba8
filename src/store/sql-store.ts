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
import type { Store } from './store.ts';

/**
 * Migrates `db` and wraps it. On failure `db` is closed before the error propagates.
 * @param afterClose runs once the connection is closed (the PGlite store releases its lock file there).
 */
export async function openSqlStore(
  db: SqlExecutor,
  kind: Store['kind'],
  logger: Logger,
  afterClose: () => Promise<void> = async () => {},
): Promise<Store> {
  try {
    await migrate(db, logger);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    kind,
    apiKeys: new SqlApiKeyRepository(db),
    secrets: new SqlSecretRepository(db),
    approvals: new SqlApprovalRepository(db),
    audit: new SqlAuditRepository(db),
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
