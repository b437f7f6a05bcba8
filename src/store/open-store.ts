/**
 * @module store/open-store
 * Turns a store URL into an open, migrated {@link Store}:
 * - `pglite://DIR`: embedded PGlite in DIR (relative to the working directory), one process at a time;
 * - `postgres://…` / `postgresql://…`: a PostgreSQL database shared by any number of gateway replicas.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Client, Pool } from 'pg';
import { GatewayError } from '../core/errors.ts';
import { type Logger, silentLogger } from '../core/logger.ts';
import { lockDir } from './lock-file.ts';
import { PgListener } from './pg-listener.ts';
import { pgliteExecutor, poolExecutor, type SqlExecutor } from './sql-executor.ts';
import { openSqlStore } from './sql-store.ts';
import type { Store } from './store.ts';

export const DEFAULT_STORE_URL = 'pglite://./.sluice';

const ACCEPTED_FORMS = 'pglite://DIR (e.g. pglite://./.sluice) or postgres://USER@HOST:PORT/DATABASE';

/**
 * The URL with everything between `scheme://` and the last `@` replaced, so no error or log line
 * can carry a password. Greedy on purpose: over-redacting a malformed URL is harmless, leaking is not.
 */
export function redactStoreUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/is, '$1***@');
}

/**
 * @example
 * const store = await openStore('pglite://./.sluice', { logger });
 * try { await store.apiKeys.list(); } finally { await store.close(); }
 * @throws GatewayError GW_ERR_STORE for an unsupported URL, a store in use, an unreachable server
 *   or a schema newer than this code.
 */
export async function openStore(url: string, options: { logger?: Logger } = {}): Promise<Store> {
  const logger = options.logger ?? silentLogger;
  const { db, kind, afterClose } = await openExecutor(url, logger);
  try {
    return await openSqlStore(db, kind, logger, { afterClose });
  } catch (error) {
    throw storeError(error, url);
  }
}

/** `error` as a GatewayError GW_ERR_STORE whose message names the store without its password. */
export function storeError(error: unknown, url: string): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError('GW_ERR_STORE', `cannot open store ${redactStoreUrl(url)}: ${scrub(error, url)}`);
}

/**
 * The cause's message minus the URL's password. Neither pg nor PGlite is known to echo it, but the
 * message goes to terminals and logs, so this is not left to chance. The cause itself is not
 * attached for the same reason (a URL parse error carries the raw input).
 */
function scrub(error: unknown, url: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const password = URL.canParse(url) ? new URL(url).password : '';
  if (password === '') return message;
  return [password, safeDecode(password)].reduce((text, secret) => text.replaceAll(secret, '***'), message);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** An open, unmigrated connection to the store, and what to run after it is closed. */
export interface OpenedExecutor {
  readonly db: SqlExecutor;
  readonly kind: Store['kind'];
  /** Runs once the connection is closed (the PGlite store releases its lock file there). */
  readonly afterClose: () => Promise<void>;
}

/**
 * Connects to the store a URL names, without migrating it: {@link openStore} in this thread, the
 * store worker (src/store/worker-store.ts) in its own.
 * @throws GatewayError GW_ERR_STORE as {@link openStore} does.
 */
export async function openExecutor(url: string, logger: Logger): Promise<OpenedExecutor> {
  const pglite = /^pglite:\/\/(.*)$/is.exec(url);
  try {
    if (pglite) return await openPglite(pglite[1] ?? '');
    if (/^postgres(ql)?:\/\//i.test(url)) return openPostgres(url, logger);
  } catch (error) {
    throw storeError(error, url);
  }
  throw new GatewayError(
    'GW_ERR_STORE',
    `unsupported store URL ${redactStoreUrl(url)}; use ${ACCEPTED_FORMS}`,
  );
}

async function openPglite(dir: string): Promise<OpenedExecutor> {
  if (dir === '')
    throw new GatewayError('GW_ERR_STORE', `pglite:// needs a directory; use ${ACCEPTED_FORMS}`);
  const root = resolve(dir);
  // The database files hold API key hashes and, later, vault material: owner only.
  await mkdir(root, { recursive: true, mode: 0o700 });
  const lock = await lockDir(root);
  try {
    // A subdirectory keeps PGlite's data directory free of our lock file and future siblings.
    // Loaded only here: its engine's JavaScript alone is tens of megabytes in every thread that
    // imports it, and a PostgreSQL store never needs it.
    const { PGlite } = await import('@electric-sql/pglite');
    const db = await PGlite.create(join(root, 'pgdata'));
    return { db: pgliteExecutor(db), kind: 'pglite', afterClose: lock.release };
  } catch (error) {
    await lock.release();
    throw error;
  }
}

function openPostgres(url: string, logger: Logger): OpenedExecutor {
  const pool = new Pool({ connectionString: url, application_name: 'sluice' });
  // Without a listener, an idle connection dropped by the server (restart, failover) crashes the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'store connection lost; the pool will reconnect'));
  // Named apart from the pool so an operator can tell the long-lived LISTEN connection in pg_stat_activity.
  const listener = new PgListener(
    () => new Client({ connectionString: url, application_name: 'sluice-listen' }),
    logger,
  );
  return { db: poolExecutor(pool, listener), kind: 'postgres', afterClose: async () => {} };
}
