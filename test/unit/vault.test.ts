/**
 * The vault against a real PGlite store in a temp dir. The store is opened over a PGlite handle
 * this file keeps, so tests can also play an attacker with SQL access to the store's tables.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { SecretVersionRow } from '../../src/store/secret-repository.ts';
import { pgliteExecutor } from '../../src/store/sql-executor.ts';
import { openSqlStore } from '../../src/store/sql-store.ts';
import type { Store } from '../../src/store/store.ts';
import {
  generateMasterKey,
  masterKeyId,
  openVault,
  parseMasterKey,
  type Vault,
  VaultError,
} from '../../src/vault/index.ts';

let dir = '';
let db: PGlite;
let store: Store;
let vault: Vault;
const masterKey = randomBytes(32);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-vault-'));
  db = await PGlite.create(join(dir, 'pgdata'));
  store = await openSqlStore(pgliteExecutor(db), 'pglite', silentLogger);
  vault = await openVault(store, masterKey);
});

afterAll(async () => {
  await store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let counter = 0;
const uniqueName = (): string => `s${++counter}-${randomBytes(3).toString('hex')}`;
const value = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;

type RawRow = Omit<SecretVersionRow, 'created_at'>;

async function rawRows(name: string): Promise<RawRow[]> {
  return (
    await db.query<RawRow>('SELECT * FROM sluice.secret_versions WHERE name = $1 ORDER BY version', [name])
  ).rows;
}

/** Expects `promise` to reject with a VaultError of `reason`; returns it for message checks. */
async function refused(promise: Promise<unknown>, reason: VaultError['reason']): Promise<VaultError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(VaultError);
  expect((error as VaultError).reason).toBe(reason);
  return error as VaultError;
}

describe('round trip', () => {
  it('set then get returns the value, at version 1', async () => {
    const name = uniqueName();
    const secret = value('pw');
    expect(await vault.set(name, secret)).toBe(1);
    expect(await vault.get(name)).toBe(secret);
  });

  it('keeps non-ASCII values and newlines inside a value intact', async () => {
    const name = uniqueName();
    const secret = `pässwörd ✓ 🔑\nsecond line ${value('x')}`;
    await vault.set(name, secret);
    expect(await vault.get(name)).toBe(secret);
  });

  it('a second vault opened with the same key reads what the first wrote', async () => {
    const name = uniqueName();
    const secret = value('shared');
    await vault.set(name, secret);
    const again = await openVault(store, Buffer.from(masterKey));
    expect(again.keyId).toBe(vault.keyId);
    expect(await again.get(name)).toBe(secret);
  });

  it('stores no plaintext: the value is in none of the row columns', async () => {
    const name = uniqueName();
    const secret = value('plain');
    await vault.set(name, secret);
    const [row] = await rawRows(name);
    expect(row).toBeDefined();
    const needle = Buffer.from(secret, 'utf8');
    for (const column of [row?.wrapped_key, row?.key_nonce, row?.value_nonce, row?.ciphertext]) {
      expect(Buffer.from(column ?? new Uint8Array()).includes(needle)).toBe(false);
    }
    // GCM: ciphertext length = value length + 16-byte tag; nonces are 96 bits; wrapped key 32 + 16.
    expect(row?.ciphertext.length).toBe(needle.length + 16);
    expect(row?.value_nonce.length).toBe(12);
    expect(row?.key_nonce.length).toBe(12);
    expect(row?.wrapped_key.length).toBe(48);
    expect(row?.key_id).toBe(masterKeyId(masterKey));
  });
});

describe('rotate', () => {
  it('get returns the new value; the old version is kept but never returned', async () => {
    const name = uniqueName();
    const [v1, v2, v3] = [value('v1'), value('v2'), value('v3')];
    await vault.set(name, v1);
    expect(await vault.rotate(name, v2)).toBe(2);
    expect(await vault.get(name)).toBe(v2);
    expect(await vault.rotate(name, v3)).toBe(3);
    expect(await vault.get(name)).toBe(v3);
    expect((await rawRows(name)).map((row) => row.version)).toEqual([1, 2, 3]);
    expect((await vault.history(name)).map((entry) => entry.version)).toEqual([1, 2, 3]);
  });

  it('concurrent rotations each get their own version and none is lost', async () => {
    const name = uniqueName();
    await vault.set(name, value('base'));
    const versions = await Promise.all([1, 2, 3, 4].map((i) => vault.rotate(name, value(`c${i}`))));
    expect([...versions].sort()).toEqual([2, 3, 4, 5]);
  });

  it('rotate of an unknown secret is not_found; set of an existing one is already_exists', async () => {
    const name = uniqueName();
    const missing = await refused(vault.rotate(name, value('x')), 'not_found');
    expect(missing.message).toContain(`sluice secrets set ${name}`);
    await vault.set(name, value('first'));
    await refused(vault.set(name, value('again')), 'already_exists');
    await refused(vault.get(uniqueName()), 'not_found');
  });
});

describe('list', () => {
  it('shows names, versions, dates and key id, and never a value', async () => {
    const name = uniqueName();
    const values = [value('l1'), value('l2')];
    await vault.set(name, values[0] ?? '');
    await vault.rotate(name, values[1] ?? '');
    const listed = await vault.list();
    const entry = listed.find((secret) => secret.name === name);
    expect(entry).toMatchObject({ name, versions: 2, latestVersion: 2, keyId: vault.keyId });
    expect(Object.keys(entry ?? {}).sort()).toEqual(
      ['createdAt', 'keyId', 'latestVersion', 'name', 'updatedAt', 'versions'].sort(),
    );
    expect(entry?.createdAt).toBeInstanceOf(Date);
    expect(entry?.updatedAt.getTime()).toBeGreaterThanOrEqual(entry?.createdAt.getTime() ?? Infinity);
    const text = JSON.stringify(listed);
    for (const secret of values) expect(text).not.toContain(secret);
    expect(listed.map((secret) => secret.name)).toEqual([...listed.map((secret) => secret.name)].sort());
  });
});

describe('names and values', () => {
  it.each(['UPPER', '-leading-dash', '', 'a'.repeat(64), 'has space', 'slash/inside'])(
    'refuses the name %j',
    async (name) => {
      await refused(vault.set(name, value('x')), 'invalid_name');
      await refused(vault.get(name), 'invalid_name');
    },
  );

  it('accepts a 63-character name with . _ -', async () => {
    const name = `a.b_c-${'d'.repeat(57)}`;
    expect(name).toHaveLength(63);
    await vault.set(name, 'v');
    expect(await vault.get(name)).toBe('v');
  });

  it('refuses an empty value, a NUL byte and more than 64 KiB', async () => {
    await refused(vault.set(uniqueName(), ''), 'invalid_value');
    await refused(vault.set(uniqueName(), 'a\0b'), 'invalid_value');
    await refused(vault.set(uniqueName(), 'x'.repeat(64 * 1024 + 1)), 'invalid_value');
    const name = uniqueName();
    await vault.set(name, 'x'.repeat(64 * 1024));
    expect(await vault.get(name)).toHaveLength(64 * 1024);
  });
});

describe('master key', () => {
  it('a wrong master key is refused at open, naming the expected key id, and reads nothing', async () => {
    const wrong = randomBytes(32);
    const error = await refused(openVault(store, wrong, { source: 'SLUICE_MASTER_KEY' }), 'wrong_master_key');
    expect(error.message).toBe(
      `wrong master key: this store's vault was created with master key id ${masterKeyId(masterKey)}, ` +
        `but the key given (from SLUICE_MASTER_KEY) has id ${masterKeyId(wrong)}; ` +
        `supply the master key with id ${masterKeyId(masterKey)}`,
    );
    expect(error.code).toBe('GW_ERR_CONFIG');
  });

  it('a check record altered in place (same key id) is refused, not trusted', async () => {
    const [check] = (await db.query<{ ciphertext: Uint8Array }>('SELECT ciphertext FROM sluice.vault_check'))
      .rows;
    const original = Buffer.from(check?.ciphertext ?? new Uint8Array());
    const flipped = Buffer.from(original);
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    await db.query('UPDATE sluice.vault_check SET ciphertext = $1', [flipped]);
    try {
      const error = await refused(openVault(store, masterKey), 'tampered');
      expect(error.message).toContain('vault check record does not authenticate');
    } finally {
      await db.query('UPDATE sluice.vault_check SET ciphertext = $1', [original]);
    }
    await expect(openVault(store, masterKey)).resolves.toBeDefined();
  });

  it('key ids are 16 hex digits, stable per key and different across keys', () => {
    expect(masterKeyId(masterKey)).toMatch(/^[0-9a-f]{16}$/);
    expect(masterKeyId(Buffer.from(masterKey))).toBe(masterKeyId(masterKey));
    expect(masterKeyId(randomBytes(32))).not.toBe(masterKeyId(masterKey));
  });

  it('parses base64 (standard and url-safe) and hex, ignoring a trailing newline', () => {
    const key = randomBytes(32);
    expect(parseMasterKey(`${key.toString('base64')}\n`, 'k')).toEqual(key);
    expect(parseMasterKey(key.toString('base64url'), 'k')).toEqual(key);
    expect(parseMasterKey(key.toString('hex').toUpperCase(), 'k')).toEqual(key);
    expect(parseMasterKey(generateMasterKey(), 'k')).toHaveLength(32);
  });

  it.each([
    ['16 bytes of base64', randomBytes(16).toString('base64'), 'decodes to 16 bytes'],
    ['33 bytes of base64', randomBytes(33).toString('base64'), 'decodes to 33 bytes'],
    ['31 bytes of hex', randomBytes(31).toString('hex'), 'decodes to'],
    ['a passphrase', 'correct horse battery staple', 'it is neither'],
    ['nothing', '  \n', 'it is empty'],
  ])('refuses %s without echoing it', (_label, text, detail) => {
    let error: unknown;
    try {
      parseMasterKey(text, 'SLUICE_MASTER_KEY');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(VaultError);
    const message = (error as VaultError).message;
    expect(message).toContain('SLUICE_MASTER_KEY: the master key must be 32 bytes');
    expect(message).toContain(detail);
    if (text.trim() !== '') expect(message).not.toContain(text.trim());
  });

  it('openVault refuses a key that is not 32 bytes', async () => {
    await refused(openVault(store, randomBytes(16)), 'invalid_master_key');
  });
});

describe('tampering: errors, never garbage', () => {
  it('a flipped bit in the ciphertext fails authentication', async () => {
    const name = uniqueName();
    await vault.set(name, value('t'));
    const [row] = await rawRows(name);
    const altered = Buffer.from(row?.ciphertext ?? new Uint8Array());
    altered[3] = (altered[3] ?? 0) ^ 0x80;
    await db.query('UPDATE sluice.secret_versions SET ciphertext = $1 WHERE name = $2', [altered, name]);
    const error = await refused(vault.get(name), 'tampered');
    expect(error.message).toBe(
      `secret "${name}" version 1 failed authentication (its row was altered or swapped with another); refusing to use it`,
    );
  });

  it('a flipped bit in the wrapped data key or a nonce fails authentication', async () => {
    for (const column of ['wrapped_key', 'key_nonce', 'value_nonce'] as const) {
      const name = uniqueName();
      await vault.set(name, value(column));
      const [row] = await rawRows(name);
      const altered = Buffer.from(row?.[column] ?? new Uint8Array());
      altered[0] = (altered[0] ?? 0) ^ 1;
      await db.query(`UPDATE sluice.secret_versions SET ${column} = $1 WHERE name = $2`, [altered, name]);
      await refused(vault.get(name), 'tampered');
    }
  });

  it("two secrets' encrypted columns swapped via SQL: both refuse instead of returning the other's value", async () => {
    const [a, b] = [uniqueName(), uniqueName()];
    const [va, vb] = [value('a'), value('b')];
    await vault.set(a, va);
    await vault.set(b, vb);
    // The whole encrypted payload moves: data key, nonces and ciphertext. Only the AAD (name,
    // version) stops B's value from being served as A's.
    await db.query(
      `UPDATE sluice.secret_versions AS t SET
         wrapped_key = o.wrapped_key, key_nonce = o.key_nonce, value_nonce = o.value_nonce, ciphertext = o.ciphertext
       FROM sluice.secret_versions AS o
       WHERE (t.name, o.name) IN (($1, $2), ($2, $1))`,
      [a, b],
    );
    const [rowA] = await rawRows(a);
    expect(rowA?.ciphertext.length).toBe(Buffer.byteLength(vb) + 16);
    await refused(vault.get(a), 'tampered');
    await refused(vault.get(b), 'tampered');
  });

  it('swapping only the ciphertext (keeping each data key) also refuses', async () => {
    const [a, b] = [uniqueName(), uniqueName()];
    await vault.set(a, value('a'));
    await vault.set(b, value('b'));
    await db.query(
      `UPDATE sluice.secret_versions AS t SET ciphertext = o.ciphertext, value_nonce = o.value_nonce
       FROM sluice.secret_versions AS o WHERE (t.name, o.name) IN (($1, $2), ($2, $1))`,
      [a, b],
    );
    await refused(vault.get(a), 'tampered');
    await refused(vault.get(b), 'tampered');
  });

  it('an old version renumbered as the latest (a rollback) refuses', async () => {
    const name = uniqueName();
    await vault.set(name, value('old'));
    await vault.rotate(name, value('new'));
    // Drop version 2 and present version 1 as version 3: its AAD says version 1.
    await db.query('DELETE FROM sluice.secret_versions WHERE name = $1 AND version = 2', [name]);
    await db.query('UPDATE sluice.secret_versions SET version = 3 WHERE name = $1 AND version = 1', [name]);
    await refused(vault.get(name), 'tampered');
  });

  it('a row claiming another master key id is refused with both ids named', async () => {
    const name = uniqueName();
    await vault.set(name, value('k'));
    await db.query("UPDATE sluice.secret_versions SET key_id = 'ffffffffffffffff' WHERE name = $1", [name]);
    const error = await refused(vault.get(name), 'wrong_master_key');
    expect(error.message).toContain('ffffffffffffffff');
    expect(error.message).toContain(vault.keyId);
  });
});

describe('nonces', () => {
  it('every version has fresh nonces and a fresh data key, even for the same value', async () => {
    const name = uniqueName();
    const same = value('same');
    await vault.set(name, same);
    for (let i = 0; i < 30; i += 1) await vault.rotate(name, same);
    const rows = await rawRows(name);
    expect(rows).toHaveLength(31);
    const hex = (column: keyof RawRow) =>
      rows.map((row) => Buffer.from(row[column] as Uint8Array).toString('hex'));
    const nonces = [...hex('key_nonce'), ...hex('value_nonce')];
    expect(new Set(nonces).size).toBe(nonces.length);
    expect(new Set(hex('wrapped_key')).size).toBe(rows.length);
    expect(new Set(hex('ciphertext')).size).toBe(rows.length);
  });
});

describe('config', () => {
  const problems = (text: string): string => {
    try {
      parseConfig(text, 'sluice.yaml');
    } catch (error) {
      return (error as Error).message;
    }
    return '';
  };

  it('vault.masterKey takes env: or file:; without a vault section there is no vault key', () => {
    expect(parseConfig('vault:\n  masterKey: file:/run/key\nconnections: []\n', 'y').vault).toEqual({
      masterKey: { kind: 'file', name: '/run/key' },
    });
    expect(parseConfig('vault: {}\nconnections: []\n', 'y').vault).toEqual({});
    expect(parseConfig('connections: []\n', 'y').vault).toBeUndefined();
    expect(problems('vault: { masterKey: s3cr3t-inline }\nconnections: []\n')).toMatch(
      /^sluice.yaml:1:21 vault.masterKey: must be a secret reference/,
    );
    expect(problems('vault: { key: env:X }\nconnections: []\n')).toBe(
      'sluice.yaml:1:10 vault.key: unknown key',
    );
  });

  it('refuses secret: for storePassword (the store opens before the vault) and for the master key', () => {
    expect(problems('store: postgres://u@h/db\nstorePassword: secret:store-pw\nconnections: []\n')).toBe(
      'sluice.yaml:2:16 storePassword: cannot be a secret: reference: the store must open before the vault, ' +
        'which lives in it; use env:NAME or file:PATH',
    );
    expect(problems('vault:\n  masterKey: secret:mk\nconnections: []\n')).toBe(
      'sluice.yaml:2:14 vault.masterKey: cannot be a secret: reference: the master key unlocks the vault; ' +
        'use env:NAME or file:PATH',
    );
  });

  it('accepts password: secret:NAME with a vault name, refuses other names', () => {
    const connection = (password: string) =>
      `connections:\n  - name: app\n    type: postgres\n    url: postgres://u@h/db\n    password: ${password}\n`;
    expect(parseConfig(connection('secret:app-db.v2'), 'y').connections[0]?.password).toEqual({
      kind: 'secret',
      name: 'app-db.v2',
    });
    expect(problems(connection('secret:App_DB'))).toBe(
      'sluice.yaml:5:15 connections[0].password: secret names: use a-z, 0-9, _, . and -, start with a letter or digit, at most 63 characters',
    );
  });
});
