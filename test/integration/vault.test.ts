/**
 * The vault end to end: a real PostgreSQL (a scratch cluster with scram-sha-256) whose role's
 * password lives only in the vault, a real gateway reading it as `password: secret:app-db`, and
 * rotation on the live gateway. Also: startup refusals, a PostgreSQL store, the demo's key, and a
 * scan of the raw store files for the plaintext.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { startDemo } from '../../src/demo/demo.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { openStore } from '../../src/store/open-store.ts';
import type { Store } from '../../src/store/store.ts';
import { masterKeyId, openVault, parseMasterKey, type Vault, VaultError } from '../../src/vault/index.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { createTestDatabase, PG_HOST, PG_PORT } from '../helpers/postgres.ts';
import { connectExpectingRefusal } from '../helpers/refusal.ts';
import { type ScratchCluster, startScratchCluster } from '../helpers/scratch-cluster.ts';

const secret = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const PW = { first: secret('first'), second: secret('second') };
const ROLE = 'sluice_vault_app';
const masterKey = randomBytes(32);
const MASTER_ENV = { SLUICE_MASTER_KEY: masterKey.toString('base64') };

let cluster: ScratchCluster;
let gw: TestGateway;
let gatewayClosed = false;
/** The operator's view: a second Vault over the gateway's store, as the admin API or CLI would have. */
let vault: Vault;
let apiKey = '';

function connectionsYaml(): string {
  return [
    'connections:',
    '  - name: app',
    '    type: postgres',
    `    url: postgres://${ROLE}@127.0.0.1:${cluster.port}/postgres`,
    '    password: secret:app-db',
    '    auth: { require: scram-sha-256 }',
    '  - name: later',
    '    type: postgres',
    `    url: postgres://${ROLE}@127.0.0.1:${cluster.port}/postgres`,
    '    password: secret:not-set-yet',
    'policies:',
    '  - name: agents',
    '    subjects: { groups: [agents] }',
    '    connections: ["*"]',
  ].join('\n');
}

beforeAll(async () => {
  cluster = await startScratchCluster({ hba: 'host all all 127.0.0.1/32 scram-sha-256' });
  await cluster.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD '${PW.first}'`);
  gw = await startTestGateway({ yaml: connectionsYaml(), env: MASTER_ENV });
  apiKey = await gw.createKey('vault-agent', ['agents']);
  vault = await openVault(gw.store, masterKey);
});

afterAll(async () => {
  if (gw && !gatewayClosed) await gw.close();
  else if (gw) await rm(gw.dataDir, { recursive: true, force: true });
  await cluster?.stop();
});

function client(connection: string): pg.Client {
  return gatewayClient(gw, apiKey, { database: connection });
}

async function connect(connection: string): Promise<pg.Client> {
  const c = client(connection);
  await c.connect();
  return c;
}

async function currentUser(connection: string): Promise<string | undefined> {
  const c = await connect(connection);
  try {
    return (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u;
  } finally {
    await c.end();
  }
}

async function expectLoginRefused(connection: string): Promise<pg.DatabaseError> {
  const error = await connectExpectingRefusal(client(connection), `connection "${connection}"`);
  expect(error.code).toBe('08001');
  expect(error.message.startsWith(`sluice: the database behind connection "${connection}"`)).toBe(true);
  return error;
}

describe('gateway with password: secret:NAME', () => {
  it('opened its vault with the master key from SLUICE_MASTER_KEY and warned about the unset secrets', () => {
    expect(gw.gateway.vault?.keyId).toBe(masterKeyId(masterKey));
    const logs = gw.logs.join('');
    expect(logs).toContain('"msg":"vault open"');
    expect(logs).toMatch(/"secretName":"not-set-yet".*not in the vault yet/);
  });

  it('a connection whose secret is not set yet is a clean 08001 and the log says which secret', async () => {
    const logStart = gw.logs.length;
    await expectLoginRefused('later');
    expect(gw.logs.slice(logStart).join('')).toContain('no secret named \\"not-set-yet\\" in the vault');
  });

  it('after `set`, connects through the gateway with the vault password and queries', async () => {
    expect(await vault.set('app-db', PW.first)).toBe(1);
    expect(await currentUser('app')).toBe(ROLE);
    // The upstream really checked a SCRAM verifier: the vault's value is what got the gateway in.
    const [stored] = await cluster.query<{ p: string }>(
      `SELECT rolpassword AS p FROM pg_authid WHERE rolname = '${ROLE}'`,
    );
    expect(stored?.p).toMatch(/^SCRAM-SHA-256\$/);
  });

  it('rotation reaches new upstream connections without a restart; a session opened before keeps working', async () => {
    const before = await connect('app');
    try {
      expect((await before.query('SELECT 1 AS one')).rows[0]?.one).toBe(1);

      await cluster.query(`ALTER ROLE ${ROLE} PASSWORD '${PW.second}'`);
      // The vault still holds the old password: new logins fail, so the vault is what counts.
      await expectLoginRefused('app');

      expect(await vault.rotate('app-db', PW.second)).toBe(2);
      expect(await currentUser('app')).toBe(ROLE);
      // Twice more: every new connection reads the latest version, not a one-off.
      expect(await currentUser('app')).toBe(ROLE);

      // In flight since before the rotation, and untouched by it.
      expect((await before.query('SELECT 2 AS two')).rows[0]?.two).toBe(2);
    } finally {
      await before.end();
    }
    expect((await vault.list()).find((s) => s.name === 'app-db')).toMatchObject({
      versions: 2,
      latestVersion: 2,
    });
  });

  it('no password or master key in any gateway log line', () => {
    const logs = gw.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const value of [PW.first, PW.second, masterKey.toString('base64'), masterKey.toString('hex')]) {
      expect(logs.includes(value)).toBe(false);
    }
  });
});

describe('startup refusals', () => {
  /** Starts a gateway over `store` with `env`; returns the error it refused with. */
  async function refusal(store: Store, yaml: string, env: NodeJS.ProcessEnv): Promise<Error> {
    const dataDir = await mkdtemp(join(tmpdir(), 'sluice-vault-refusal-'));
    try {
      const config = parseConfig(
        `listen: { postgres: 127.0.0.1:0 }\nadmin: { enabled: false }\ndataDir: ${dataDir}\n${yaml}`,
        'test config',
      );
      const started = await startGateway(config, { logger: silentLogger, store, env }).then(
        async (gateway) => {
          await gateway.close();
          return undefined;
        },
        (error: unknown) => error as Error,
      );
      if (!started) throw new Error('the gateway started; a refusal was expected');
      return started;
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it('a wrong master key is refused with the key id the vault expects', async () => {
    const wrong = randomBytes(32);
    const error = await refusal(gw.store, connectionsYaml(), { SLUICE_MASTER_KEY: wrong.toString('hex') });
    expect(error).toBeInstanceOf(VaultError);
    expect(error.message).toBe(
      `wrong master key: this store's vault was created with master key id ${masterKeyId(masterKey)}, ` +
        `but the key given (from SLUICE_MASTER_KEY) has id ${masterKeyId(wrong)}; ` +
        `supply the master key with id ${masterKeyId(masterKey)}`,
    );
  });

  it('a secret: password without any master key is refused, naming the connection and what to set', async () => {
    const error = await refusal(gw.store, connectionsYaml(), {});
    expect(error.message).toBe(
      'connection "app" uses password: secret:app-db, but no vault master key is available: ' +
        'set SLUICE_MASTER_KEY, or vault.masterKey (env:NAME or file:PATH) in the config',
    );
  });

  it('a malformed master key is refused without echoing it', async () => {
    const short = randomBytes(16).toString('base64');
    const error = await refusal(gw.store, connectionsYaml(), { SLUICE_MASTER_KEY: short });
    expect(error.message).toContain('SLUICE_MASTER_KEY: the master key must be 32 bytes');
    expect(error.message).not.toContain(short);
  });

  it('vault.masterKey: file:PATH is used over SLUICE_MASTER_KEY, and a missing file is refused', async () => {
    const missing = join(tmpdir(), `no-such-key-${randomBytes(4).toString('hex')}`);
    const error = await refusal(
      gw.store,
      `vault:\n  masterKey: file:${missing}\n${connectionsYaml()}`,
      MASTER_ENV,
    );
    expect(error.message).toBe(`file:${missing}: cannot read the file (ENOENT)`);
  });
});

describe('a postgres:// store', () => {
  it('keeps, rotates and lists secrets, and refuses a wrong key, like PGlite', async () => {
    const database = await createTestDatabase('sluice_vault');
    let store: Store | undefined;
    try {
      store = await openStore(`postgres://${database.role}@${PG_HOST}:${PG_PORT}/${database.name}`);
      const key = randomBytes(32);
      const pgVault = await openVault(store, key);
      const [v1, v2] = [secret('pg1'), secret('pg2')];
      expect(await pgVault.set('db.main', v1)).toBe(1);
      expect(await pgVault.get('db.main')).toBe(v1);
      expect(await pgVault.rotate('db.main', v2)).toBe(2);
      expect(await (await openVault(store, Buffer.from(key))).get('db.main')).toBe(v2);
      expect(await pgVault.list()).toEqual([
        expect.objectContaining({ name: 'db.main', versions: 2, latestVersion: 2, keyId: masterKeyId(key) }),
      ]);
      await expect(openVault(store, randomBytes(32))).rejects.toThrow(/wrong master key/);
    } finally {
      await store?.close();
      await database.drop();
    }
  });
});

describe('the demo', () => {
  it('generates a 0600 master key file in its data dir and opens the vault with it', async () => {
    const demo = await startDemo({ port: 0, adminPort: 0, logger: silentLogger });
    try {
      const dataDir = dirname(dirname(demo.gateway.certPath));
      const keyFile = join(dataDir, 'master.key');
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      const key = parseMasterKey(await readFile(keyFile, 'utf8'), keyFile);
      expect(demo.gateway.vault?.keyId).toBe(masterKeyId(key));
      const value = secret('demo');
      await demo.gateway.vault?.set('demo-db', value);
      expect(await demo.gateway.vault?.get('demo-db')).toBe(value);
    } finally {
      await demo.close();
    }
  });
});

describe('the store files', () => {
  async function files(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true, recursive: true });
    return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
  }

  it('hold no plaintext secret (raw, base64 or hex) and no master key, in any file', async () => {
    // Everything committed reaches the files once PGlite shuts down.
    await gw.gateway.close();
    await gw.store.close();
    gatewayClosed = true;
    const storeDir = join(gw.dataDir, 'store');
    const paths = await files(storeDir);
    expect(paths.length).toBeGreaterThan(10);

    const forbidden: Record<string, Buffer> = {};
    for (const [label, value] of Object.entries(PW)) {
      const bytes = Buffer.from(value, 'utf8');
      forbidden[`${label} (raw)`] = bytes;
      forbidden[`${label} (base64)`] = Buffer.from(bytes.toString('base64'));
      forbidden[`${label} (hex)`] = Buffer.from(bytes.toString('hex'));
    }
    forbidden['master key (raw)'] = masterKey;
    forbidden['master key (base64)'] = Buffer.from(masterKey.toString('base64'));
    forbidden['master key (hex)'] = Buffer.from(masterKey.toString('hex'));
    // Controls: text that is in the vault rows in the clear, so the scan does see those rows.
    const expected = { name: Buffer.from('not-set-yet'), keyId: Buffer.from(masterKeyId(masterKey)) };
    const found = { name: false, keyId: false };

    for (const path of paths) {
      const content = await readFile(path);
      for (const [label, needle] of Object.entries(forbidden)) {
        expect(content.includes(needle), `${label} found in ${path}`).toBe(false);
      }
      found.name ||= content.includes(expected.name) || content.includes(Buffer.from('app-db'));
      found.keyId ||= content.includes(expected.keyId);
    }
    expect(found).toEqual({ name: true, keyId: true });
  });
});
