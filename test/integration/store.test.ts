/**
 * One suite, both backends: the PGlite and PostgreSQL stores run the same SQL, and this proves they
 * behave the same. PostgreSQL is the real server on 127.0.0.1:5432; each run gets its own database.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/identity/api-keys.ts';
import { MIGRATIONS } from '../../src/store/migrations.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { NewApiKey, Store } from '../../src/store/store.ts';

const PG_SERVER = 'postgres://postgres@127.0.0.1:5432';

async function withAdmin<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: `${PG_SERVER}/postgres` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function createDatabase(): Promise<string> {
  const name = `sluice_store_${randomBytes(6).toString('hex')}`;
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name}`));
  return name;
}

async function dropDatabase(name: string): Promise<void> {
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

interface Backend {
  readonly kind: Store['kind'];
  setup(): Promise<void>;
  teardown(): Promise<void>;
  readonly url: string;
  /** Runs SQL on the store's database directly; the store must be closed (PGlite is single-user). */
  raw<R>(sql: string): Promise<R[]>;
  /** Everything the backend persisted, as one string to search; the store must be closed. */
  persisted(): Promise<string>;
}

function pgliteBackend(): Backend {
  let dir = '';
  return {
    kind: 'pglite',
    get url() {
      return `pglite://${dir}`;
    },
    setup: async () => {
      dir = await mkdtemp(join(tmpdir(), 'sluice-store-'));
    },
    teardown: () => rm(dir, { recursive: true, force: true }),
    raw: async <R>(sql: string) => {
      const db = await PGlite.create(join(dir, 'pgdata'));
      try {
        return (await db.query<R>(sql)).rows;
      } finally {
        await db.close();
      }
    },
    persisted: async () => {
      const files = await readdir(dir, { recursive: true, withFileTypes: true });
      const contents = await Promise.all(
        files.filter((f) => f.isFile()).map((f) => readFile(join(f.parentPath, f.name), 'latin1')),
      );
      return contents.join('\n');
    },
  };
}

function postgresBackend(): Backend {
  let database = '';
  const raw = async <R>(sql: string) => {
    const client = new Client({ connectionString: `${PG_SERVER}/${database}` });
    await client.connect();
    try {
      return (await client.query(sql)).rows as R[];
    } finally {
      await client.end();
    }
  };
  return {
    kind: 'postgres',
    get url() {
      return `${PG_SERVER}/${database}`;
    },
    setup: async () => {
      database = await createDatabase();
    },
    teardown: () => dropDatabase(database),
    raw,
    persisted: async () => {
      const tables = await raw<{ name: string }>(
        `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS name
         FROM information_schema.tables WHERE table_schema = 'sluice'`,
      );
      const dumps = await Promise.all(
        tables.map(({ name }) => raw<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)),
      );
      return dumps
        .flat()
        .map(({ row }) => row)
        .join('\n');
    },
  };
}

function newKey(overrides: Partial<NewApiKey> = {}): NewApiKey & { key: string } {
  const { key, id, prefix, hash } = generateApiKey();
  return { key, id, prefix, hash, name: `n-${id}`, groups: ['ci'], expiresAt: null, ...overrides };
}

describe.each([pgliteBackend(), postgresBackend()])('$kind store', (backend) => {
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());

  async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
    const store = await openStore(backend.url);
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  }

  it('opens, answers ping and reports its kind', async () => {
    await withStore(async (store) => {
      expect(store.kind).toBe(backend.kind);
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });

  it('applies each migration once: reopening keeps data and records nothing new', async () => {
    const key = newKey();
    await withStore((store) => store.apiKeys.create(key));
    await withStore(async (store) => {
      expect((await store.apiKeys.findById(key.id))?.name).toBe(key.name);
    });
    const applied = await backend.raw<{ version: number; name: string }>(
      'SELECT version, name FROM sluice.schema_migrations ORDER BY version',
    );
    expect(applied).toEqual(MIGRATIONS.map(({ version, name }) => ({ version, name })));
  });

  it('creates, finds, lists, revokes and touches keys', async () => {
    await withStore(async (store) => {
      const expiresAt = new Date('2031-02-03T04:05:06.789Z');
      const input = newKey({ groups: ['ci', 'deploy'], expiresAt });
      const created = await store.apiKeys.create(input);
      expect(created).toMatchObject({
        id: input.id,
        name: input.name,
        prefix: input.prefix,
        hash: input.hash,
        groups: ['ci', 'deploy'],
        expiresAt,
        revokedAt: null,
        lastUsedAt: null,
      });
      expect(created.createdAt).toBeInstanceOf(Date);
      expect(Math.abs(created.createdAt.getTime() - Date.now())).toBeLessThan(60_000);

      expect(await store.apiKeys.findByHash(input.hash)).toEqual(created);
      expect(await store.apiKeys.findById(input.id)).toEqual(created);
      expect(await store.apiKeys.findByHash(generateApiKey().hash)).toBeUndefined();
      expect(await store.apiKeys.findById('ak_missing')).toBeUndefined();
      expect((await store.apiKeys.list()).map((r) => r.id)).toContain(input.id);

      const used = new Date('2030-01-01T00:00:00.000Z');
      await store.apiKeys.touch(input.id, used);
      await store.apiKeys.touch(input.id, new Date('2029-01-01T00:00:00.000Z'));
      expect((await store.apiKeys.findById(input.id))?.lastUsedAt).toEqual(used);

      const revoked = await store.apiKeys.revoke(input.id);
      expect(revoked?.revokedAt).toBeInstanceOf(Date);
      // Revoking again keeps the first timestamp.
      expect((await store.apiKeys.revoke(input.id))?.revokedAt).toEqual(revoked?.revokedAt);
      expect(await store.apiKeys.revoke('no-such-key')).toBeUndefined();
    });
  });

  it('lists oldest first', async () => {
    await withStore(async (store) => {
      const first = await store.apiKeys.create(newKey());
      const second = await store.apiKeys.create(newKey());
      const ids = (await store.apiKeys.list()).map((r) => r.id);
      expect(ids.indexOf(first.id)).toBeLessThan(ids.indexOf(second.id));
    });
  });

  it('allows one active key per name; the name is free again after revoke', async () => {
    await withStore(async (store) => {
      const first = await store.apiKeys.create(newKey({ name: 'shared-name' }));
      await expect(store.apiKeys.create(newKey({ name: 'shared-name' }))).rejects.toMatchObject({
        code: 'GW_ERR_STORE',
        message: expect.stringContaining('an API key named "shared-name" already exists'),
      });
      expect((await store.apiKeys.revoke('shared-name'))?.id).toBe(first.id);
      const second = await store.apiKeys.create(newKey({ name: 'shared-name' }));
      // By name, only the active key is revoked; the old one stays as it was.
      expect((await store.apiKeys.revoke('shared-name'))?.id).toBe(second.id);
      expect(await store.apiKeys.revoke('shared-name')).toBeUndefined();
    });
  });

  it('revoke prefers an id over a name that looks like one', async () => {
    await withStore(async (store) => {
      const target = await store.apiKeys.create(newKey());
      const decoy = await store.apiKeys.create(newKey({ name: target.id }));
      expect((await store.apiKeys.revoke(target.id))?.id).toBe(target.id);
      expect((await store.apiKeys.findById(decoy.id))?.revokedAt).toBeNull();
    });
  });

  it('persists the hash but never the plaintext key', async () => {
    const input = newKey();
    await withStore((store) => store.apiKeys.create(input));
    const persisted = await backend.persisted();
    // The hash being found shows the scan reaches the data at all.
    expect(persisted).toContain(input.hash);
    expect(persisted).not.toContain(input.key);
    expect(persisted).not.toContain(input.key.slice(4));
  });

  it('refuses a store whose schema is newer than this code', async () => {
    await withStore(async () => {});
    await backend.raw(
      `INSERT INTO sluice.schema_migrations (version, name) VALUES (9999, 'from the future')`,
    );
    try {
      await expect(openStore(backend.url)).rejects.toMatchObject({
        code: 'GW_ERR_STORE',
        message: expect.stringMatching(
          /store schema version 9999 is newer than this sluice supports \(\d+\)/,
        ),
      });
    } finally {
      await backend.raw('DELETE FROM sluice.schema_migrations WHERE version = 9999');
    }
    await withStore(async (store) => store.ping());
  });
});

describe('postgres store', () => {
  let database = '';
  beforeAll(async () => {
    database = await createDatabase();
  });
  afterAll(() => dropDatabase(database));

  it('lets replicas open (and migrate) one fresh database concurrently', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => openStore(`${PG_SERVER}/${database}`)));
    try {
      await Promise.all(stores.map((store) => store.ping()));
      const key = newKey();
      await stores[0]?.apiKeys.create(key);
      expect((await stores[5]?.apiKeys.findByHash(key.hash))?.id).toBe(key.id);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
    }
  });

  it('never shows the password from the URL in errors', async () => {
    const url = 'postgres://postgres:hunter2-secret@127.0.0.1:5432/sluice_store_does_not_exist';
    const error = await openStore(url).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'GW_ERR_STORE' });
    expect(String((error as Error).message)).toContain(
      'postgres://***@127.0.0.1:5432/sluice_store_does_not_exist',
    );
    expect(String((error as Error).message)).not.toContain('hunter2');
  });
});

describe('pglite store', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-store-lock-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('creates its directory owner-only', async () => {
    const storeDir = join(dir, 'fresh', 'nested');
    const store = await openStore(`pglite://${storeDir}`);
    await store.close();
    expect((await stat(storeDir)).mode & 0o777).toBe(0o700);
  });

  it('refuses a second opener while the first holds the lock, and frees it on close', async () => {
    const storeDir = join(dir, 'locked');
    const first = await openStore(`pglite://${storeDir}`);
    try {
      expect(await readFile(join(storeDir, 'sluice.lock'), 'utf8')).toBe(`${process.pid}\n`);
      await expect(openStore(`pglite://${storeDir}`)).rejects.toMatchObject({
        code: 'GW_ERR_STORE',
        message: `store ${storeDir} is in use by process ${process.pid} (a running gateway?); stop it, or use a postgres:// store for several processes`,
      });
    } finally {
      await first.close();
    }
    const again = await openStore(`pglite://${storeDir}`);
    await again.close();
  });

  it('takes over a lock left by a process that has exited', async () => {
    const storeDir = join(dir, 'stale');
    await (await openStore(`pglite://${storeDir}`)).close();
    const exited = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(join(storeDir, 'sluice.lock'), `${exited}\n`);
    const store = await openStore(`pglite://${storeDir}`);
    expect(await readFile(join(storeDir, 'sluice.lock'), 'utf8')).toBe(`${process.pid}\n`);
    await store.close();
  });

  it('rejects URLs it does not support, naming the accepted forms without the password', async () => {
    for (const url of ['mysql://root:hunter2@db/app', 'pglite://', '/var/lib/sluice']) {
      const error = await openStore(url).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'GW_ERR_STORE', message: expect.stringContaining('pglite://DIR') });
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
