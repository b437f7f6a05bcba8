/**
 * @module store/sql-executor
 * The only place that knows whether SQL runs in PGlite or in PostgreSQL through a `pg.Pool`.
 * Repositories and migrations are written once against {@link SqlExecutor}; each backend adds a
 * few lines of adaptation here and nothing else.
 */
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';
import type { PgListener } from './pg-listener.ts';

/** bigint columns: pg hands them back as strings, PGlite as numbers. */
export type Int8 = string | number | bigint;

export interface SqlQuerier {
  /** One statement with `$n` parameters; resolves to the rows. */
  query<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** A script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export interface SqlExecutor extends SqlQuerier {
  /** Runs `work` inside BEGIN … COMMIT on one connection; rolls back if it throws. */
  transaction<T>(work: (tx: SqlQuerier) => Promise<T>): Promise<T>;
  /**
   * Calls `onPayload` with the payload of every NOTIFY on `channel` (from any connection, once
   * committed). Resolves once listening, to an unsubscribe function. An empty payload means
   * notifications may have been lost (the listening connection dropped and came back), so
   * payloads on a channel whose subscribers rely on it must never be empty. `onPayload` must not throw.
   */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** PGlite and its Transaction share this shape. */
function pgliteQuerier(db: PGlite | Transaction): SqlQuerier {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = []) =>
      (await db.query<R>(sql, [...params])).rows,
    exec: async (script) => {
      await db.exec(script);
    },
  };
}

export function pgliteExecutor(db: PGlite): SqlExecutor {
  return {
    ...pgliteQuerier(db),
    transaction: (work) => db.transaction((tx) => work(pgliteQuerier(tx))),
    // PGlite delivers a NOTIFY from any of its queries to its own listeners, and never drops them.
    listen: async (channel, onPayload) => {
      const unlisten = await db.listen(channel, onPayload);
      return () => unlisten();
    },
    close: () => db.close(),
  };
}

/** A Pool or one checked-out client. Without parameters pg uses the simple protocol, which accepts scripts. */
function pgQuerier(db: Pool | PoolClient): SqlQuerier {
  return {
    query: async <R>(sql: string, params: readonly unknown[] = []) =>
      (await db.query(sql, [...params])).rows as R[],
    exec: async (script) => {
      await db.query(script);
    },
  };
}

/** `listener` holds the one connection outside the pool that LISTENs; closing the executor closes both. */
export function poolExecutor(pool: Pool, listener: PgListener): SqlExecutor {
  return {
    ...pgQuerier(pool),
    transaction: async (work) => {
      const client = await pool.connect();
      // A checked-out client whose connection dies between queries (the server restarted, an
      // administrator terminated it) emits 'error', which the pool only handles for idle clients;
      // unheard, it would be thrown. The next query fails anyway, and that rolls the work back.
      let lost: Error | undefined;
      const onError = (error: Error) => {
        lost = error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(pgQuerier(client));
        await client.query('COMMIT');
        client.off('error', onError);
        client.release();
        return result;
      } catch (error) {
        // If even ROLLBACK fails the connection's state is unknown: destroy it instead of pooling it.
        const rolledBack = await client.query('ROLLBACK').then(
          () => undefined,
          (rollbackError: Error) => rollbackError,
        );
        client.off('error', onError);
        client.release(rolledBack ?? lost);
        throw error;
      }
    },
    listen: (channel, onPayload) => listener.listen(channel, onPayload),
    close: async () => {
      await listener.close();
      await pool.end();
    },
  };
}
