/**
 * The store backends the store suites run against: a throwaway PGlite directory and a scratch
 * PostgreSQL database, each created in `setup` and removed in `teardown`, opened in the test's
 * thread or (as the gateway opens its store) in a store worker.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { silentLogger } from '../../src/core/logger.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/store.ts';
import { openStoreInWorker } from '../../src/store/worker-store.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from './postgres.ts';

export interface Backend {
  readonly kind: Store['kind'];
  /** `kind`, plus where the store runs when that is the store worker: what test titles show. */
  readonly name: string;
  readonly url: string;
  readonly inWorker: boolean;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}

/** The name a backend shows in test titles. */
function backendName(kind: Store['kind'], inWorker: boolean): string {
  return inWorker ? `${kind} (store worker)` : kind;
}

export function pgliteBackend(prefix: string, { inWorker = false } = {}): Backend {
  let dir = '';
  return {
    kind: 'pglite',
    name: backendName('pglite', inWorker),
    inWorker,
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
export function postgresBackend(
  prefix: string,
  { inWorker = false } = {},
): Backend & { readonly database: string } {
  let database: TestDatabase | undefined;
  return {
    kind: 'postgres',
    name: backendName('postgres', inWorker),
    inWorker,
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
 * Every backend a repository suite runs on: PGlite and PostgreSQL, each opened in the test's
 * thread and, as the gateway opens its store, in a store worker. `name` keeps the scratch
 * directories and databases of one suite apart from another's.
 */
export function everyBackend(name: string): Backend[] {
  return [
    pgliteBackend(`sluice-${name}`),
    postgresBackend(`sluice_${name}`),
    pgliteBackend(`sluice-${name}-worker`, { inWorker: true }),
    postgresBackend(`sluice_${name}_worker`, { inWorker: true }),
  ];
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
    store = backend.inWorker
      ? await openStoreInWorker(backend.url, { logger: silentLogger })
      : await openStore(backend.url);
    use(store);
  });
  afterAll(async () => {
    await store?.close();
    await backend.teardown();
  });
}
