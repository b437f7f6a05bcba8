/**
 * The two store backends the store suites run against: a throwaway PGlite directory and a scratch
 * PostgreSQL database, each created in `setup` and removed in `teardown`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/store.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from './postgres.ts';

export interface Backend {
  readonly kind: Store['kind'];
  readonly url: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

export function pgliteBackend(prefix: string): Backend {
  let dir = '';
  return {
    kind: 'pglite',
    get url() {
      return `pglite://${dir}`;
    },
    setup: async () => {
      dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
    },
    teardown: () => rm(dir, { recursive: true, force: true }),
  };
}

/** `database` is the scratch database's name, for tests that reach into it directly. */
export function postgresBackend(prefix: string): Backend & { readonly database: string } {
  let database: TestDatabase | undefined;
  return {
    kind: 'postgres',
    get database() {
      return database?.name ?? '';
    },
    get url() {
      return `postgres://${database?.role}@${PG_HOST}:${PG_PORT}/${database?.name}`;
    },
    setup: async () => {
      database = await createTestDatabase(prefix);
    },
    teardown: async () => {
      await database?.drop();
    },
  };
}

/**
 * Two stores (two "replicas") opened on one scratch PostgreSQL database for the enclosing
 * describe block; read `a` and `b` inside tests.
 */
export function replicasOnOnePostgres(prefix: string): {
  readonly a: Store;
  readonly b: Store;
  readonly database: string;
  readonly url: string;
} {
  const backend = postgresBackend(prefix);
  let a: Store | undefined;
  let b: Store | undefined;
  beforeAll(async () => {
    await backend.setup();
    a = await openStore(backend.url);
    b = await openStore(backend.url);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await backend.teardown();
  });
  const opened = (store: Store | undefined): Store => {
    if (store === undefined) throw new Error('the replicas open in beforeAll');
    return store;
  };
  return {
    get a() {
      return opened(a);
    },
    get b() {
      return opened(b);
    },
    get database() {
      return backend.database;
    },
    get url() {
      return backend.url;
    },
  };
}

/**
 * Opens a store on `backend` for the enclosing describe block (set up before, closed and torn
 * down after) and hands it to `use`.
 */
export function openStoreFor(backend: Backend, use: (store: Store) => void): void {
  let store: Store | undefined;
  beforeAll(async () => {
    await backend.setup();
    store = await openStore(backend.url);
    use(store);
  });
  afterAll(async () => {
    await store?.close();
    await backend.teardown();
  });
}
