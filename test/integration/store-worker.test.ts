/**
 * What the store worker adds on top of the repositories (whose suites also run through it, see
 * audit-store and approval-store): errors cross the thread boundary as the kinds callers test
 * for, audit appends chained in the worker verify like any others, a closed store answers
 * every later call with an error instead of leaving it pending, and a PostgreSQL connection lost
 * while the worker holds a transaction open fails that transaction only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChainVerifier } from '../../src/audit/chain.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { generateApiKey } from '../../src/identity/api-keys.ts';
import { openStore } from '../../src/store/open-store.ts';
import { PgListener } from '../../src/store/pg-listener.ts';
import { poolExecutor } from '../../src/store/sql-executor.ts';
import { openStoreInWorker } from '../../src/store/worker-store.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT } from '../helpers/postgres.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-store-worker-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function newKey(name: string) {
  const { id, prefix, hash } = generateApiKey();
  return { id, prefix, hash, name, groups: ['ci'], expiresAt: null };
}

describe('the store worker', () => {
  it('passes a unique violation back with its SQLSTATE, so the repository names the conflict', async () => {
    const store = await openStoreInWorker(`pglite://${join(dir, 'unique')}`, { logger: silentLogger });
    try {
      await store.apiKeys.create(newKey('twice'));
      await expect(store.apiKeys.create(newKey('twice'))).rejects.toMatchObject({
        code: 'GW_ERR_STORE',
        message: expect.stringContaining('an API key named "twice" already exists'),
      });
    } finally {
      await store.close();
    }
  });

  it('rolls back a transaction whose work throws, and passes the error on unchanged', async () => {
    const store = await openStoreInWorker(`pglite://${join(dir, 'rollback')}`, { logger: silentLogger });
    try {
      await expect(
        store.audit.append([{ at: 'yesterday', type: 'x', event: { type: 'x' } }]),
      ).rejects.toThrow(RangeError);
      expect(await store.audit.head()).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it('chains appends in the worker into records that verify when read back in this thread', async () => {
    const url = `pglite://${join(dir, 'chain')}`;
    const store = await openStoreInWorker(url, { logger: silentLogger });
    const at = new Date().toISOString();
    const first = await store.audit.append([
      { at, type: 'key.revoked', event: { type: 'key.revoked', keyId: 'ak_1', name: 'one' } },
      { at, type: 'key.revoked', event: { type: 'key.revoked', keyId: 'ak_2', name: 'two' } },
    ]);
    const second = await store.audit.append([
      { at, type: 'key.revoked', event: { type: 'key.revoked', keyId: 'ak_3', name: 'three' } },
    ]);
    await store.close();
    // Reopened in this thread: the PGlite lock was released and the rows are what the worker said.
    const direct = await openStore(url);
    try {
      const stored = await direct.audit.range({});
      expect(stored).toEqual([...first, ...second]);
      const verifier = new ChainVerifier({ publicKeys: new Map(), checkpoints: [] });
      for (const record of stored) verifier.push(record);
      expect(verifier.finish()).toMatchObject({ ok: true });
    } finally {
      await direct.close();
    }
  });

  it('answers calls after close with GW_ERR_STORE instead of leaving them pending', async () => {
    const store = await openStoreInWorker(`pglite://${join(dir, 'closed')}`, { logger: silentLogger });
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({ code: 'GW_ERR_STORE' });
  });

  it('reports a store it cannot open as openStore does', async () => {
    await expect(openStoreInWorker('mysql://nope', { logger: silentLogger })).rejects.toMatchObject({
      code: 'GW_ERR_STORE',
      message: expect.stringContaining('unsupported store URL'),
    });
  });

  it('survives a PostgreSQL connection terminated in the middle of a transaction: only that transaction fails', async () => {
    const database = await createTestDatabase('sluice_txlost');
    const url = `postgres://${database.role}@${PG_HOST}:${PG_PORT}/${database.name}`;
    const db = poolExecutor(
      new Pool({ connectionString: url }),
      new PgListener(() => new Client({ connectionString: url }), silentLogger),
    );
    try {
      await expect(
        db.transaction(async (tx) => {
          const [backend] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await adminQuery(`SELECT pg_terminate_backend(${backend?.pid})`);
          // The store worker holds a transaction open across thread round trips: the connection
          // dies between two of its queries, where only an 'error' event reports it.
          await new Promise((resolve) => setTimeout(resolve, 300));
          await tx.query('SELECT 1');
        }),
      ).rejects.toThrow();
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.close();
      await database.drop();
    }
  });
});
