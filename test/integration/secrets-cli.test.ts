/** `sluice secrets …` run as real subprocesses, values on stdin, the way operators script it. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.ts';
import { masterKeyId, openVault } from '../../src/vault/index.ts';
import { type RunResult, run } from '../helpers/run.ts';

const CLI = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

/** Runs the CLI with `input` on stdin and exactly the SLUICE_MASTER_KEY given (or none). */
function sluice(args: string[], options: { input?: string; masterKey?: string } = {}): Promise<RunResult> {
  const env = { ...process.env };
  delete env.SLUICE_MASTER_KEY;
  delete env.SLUICE_STORE;
  if (options.masterKey !== undefined) env.SLUICE_MASTER_KEY = options.masterKey;
  return run(process.execPath, [CLI, ...args], { exactEnv: env, input: options.input ?? '' });
}

const value = (label: string): string => `${label}-${randomBytes(12).toString('hex')}`;
const VALUES = { first: value('first'), second: value('second'), other: value('other') };
const key = randomBytes(32);
const KEY = key.toString('base64');
const KEY_ID = masterKeyId(key);

let dir = '';
let store = '';
let keyFile = '';
const inStore = (...args: string[]): string[] => [...args, '--store', store];

/** Every value as it might leak: raw, base64, hex. */
function expectNoValue(text: string): void {
  for (const secret of Object.values(VALUES)) {
    for (const form of [
      secret,
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('hex'),
    ]) {
      expect(text).not.toContain(form);
    }
  }
}

async function storedValue(name: string): Promise<string> {
  const opened = await openStore(store);
  try {
    return await (await openVault(opened, key)).get(name);
  } finally {
    await opened.close();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-secrets-cli-'));
  store = `pglite://${join(dir, 'store')}`;
  keyFile = join(dir, 'master.key');
  await writeFile(keyFile, `${key.toString('hex')}\n`, { mode: 0o600 });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('sluice secrets', () => {
  it('set reads the value from stdin, drops the trailing newline and never prints it', async () => {
    const run = await sluice(inStore('secrets', 'set', 'app-db'), {
      input: `${VALUES.first}\n`,
      masterKey: KEY,
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(`secret "app-db" set: version 1 (master key id ${KEY_ID})\n`);
    expect(await storedValue('app-db')).toBe(VALUES.first);
  });

  it('set --json prints name, version and key id only', async () => {
    const run = await sluice(inStore('secrets', 'set', 'other.db', '--json'), {
      input: VALUES.other,
      masterKey: KEY,
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ name: 'other.db', version: 1, keyId: KEY_ID });
    expect(await storedValue('other.db')).toBe(VALUES.other);
  });

  it('set refuses an existing name (rotate is the way), and an empty value', async () => {
    const again = await sluice(inStore('secrets', 'set', 'app-db'), { input: 'whatever', masterKey: KEY });
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('sluice: secret "app-db" already exists; use rotate to give it a new value\n');

    const empty = await sluice(inStore('secrets', 'set', 'empty-one'), { input: '\n', masterKey: KEY });
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('sluice: no value for secret "empty-one" on stdin');
    expect(await storedValue('app-db')).toBe(VALUES.first);
  });

  it('rotate makes a new version from stdin; the key may come from --master-key-file', async () => {
    // A wrong key in the environment too: the file given on the command line wins.
    const run = await sluice(inStore('secrets', 'rotate', 'app-db', '--master-key-file', keyFile), {
      input: `${VALUES.second}\r\n`,
      masterKey: randomBytes(32).toString('base64'),
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`secret "app-db" rotated to version 2 (master key id ${KEY_ID})`);
    expect(await storedValue('app-db')).toBe(VALUES.second);
  });

  it('records set and rotate in the audit chain, naming the OS account and never the value', async () => {
    const opened = await openStore(store);
    try {
      const records = (await opened.audit.range({})).filter((r) => r.type.startsWith('secret.'));
      const actor = { id: `cli:${userInfo().username}`, kind: 'human', sourceAddress: 'local' };
      expect(records.map((r) => r.event)).toEqual(
        expect.arrayContaining([
          { type: 'secret.set', actor: expect.objectContaining(actor), name: 'app-db', version: 1 },
          { type: 'secret.rotated', actor: expect.objectContaining(actor), name: 'app-db', version: 2 },
        ]),
      );
      expectNoValue(JSON.stringify(await opened.audit.range({})));
    } finally {
      await opened.close();
    }
  });

  it('rotate of an unknown secret fails and says how to create it', async () => {
    const run = await sluice(inStore('secrets', 'rotate', 'nope'), { input: 'x', masterKey: KEY });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'sluice: no secret named "nope" in the vault; create it with: sluice secrets set nope\n',
    );
  });

  it('list shows names, versions, dates and key id, and never a value', async () => {
    const run = await sluice(inStore('secrets', 'list'), { masterKey: KEY });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+VERSIONS\s+LATEST\s+CREATED\s+UPDATED\s+KEY ID$/);
    expect(lines.slice(1)).toEqual([
      expect.stringMatching(
        new RegExp(`^app-db\\s+2\\s+2\\s+\\d{4}-\\d\\d-\\d\\dT\\S+Z\\s+\\S+Z\\s+${KEY_ID}$`),
      ),
      expect.stringMatching(new RegExp(`^other\\.db\\s+1\\s+1\\s+\\S+Z\\s+\\S+Z\\s+${KEY_ID}$`)),
    ]);
    expectNoValue(run.stdout + run.stderr);
  });

  it('list --json has exactly the public fields, and never a value', async () => {
    const run = await sluice(inStore('secrets', 'list', '--json'), { masterKey: KEY });
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({ name: 'app-db', versions: 2, latestVersion: 2, keyId: KEY_ID }),
      expect.objectContaining({ name: 'other.db', versions: 1, latestVersion: 1, keyId: KEY_ID }),
    ]);
    for (const entry of listed) {
      expect(Object.keys(entry).sort()).toEqual(
        ['createdAt', 'keyId', 'latestVersion', 'name', 'updatedAt', 'versions'].sort(),
      );
    }
    expectNoValue(run.stdout + run.stderr);
  });

  it('list reads the key from vault.masterKey of --config', async () => {
    const config = join(dir, 'sluice.yaml');
    await writeFile(config, `store: ${store}\nvault:\n  masterKey: file:${keyFile}\nconnections: []\n`);
    const run = await sluice(['secrets', 'list', '--json', '--config', config]);
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { name: string }[]).map((s) => s.name)).toEqual(['app-db', 'other.db']);
  });

  it('a wrong master key: exit 1 with the expected key id, for every command, and nothing written', async () => {
    const wrong = randomBytes(32);
    const message =
      `sluice: wrong master key: this store's vault was created with master key id ${KEY_ID}, ` +
      `but the key given (from SLUICE_MASTER_KEY) has id ${masterKeyId(wrong)}; supply the master key with id ${KEY_ID}\n`;
    for (const [args, input] of [
      [['secrets', 'list'], ''],
      [['secrets', 'set', 'fresh'], value('fresh')],
      [['secrets', 'rotate', 'app-db'], value('third')],
    ] as const) {
      const run = await sluice(inStore(...args), { input, masterKey: wrong.toString('base64') });
      expect(run).toEqual({ code: 1, stdout: '', stderr: message });
    }
    expect(await storedValue('app-db')).toBe(VALUES.second);
    await expect(storedValue('fresh')).rejects.toThrow(/no secret named "fresh"/);
  });

  it('no master key, or a malformed one: exit 1 with a clear message that does not echo it', async () => {
    const none = await sluice(inStore('secrets', 'list'));
    expect(none).toMatchObject({ code: 1, stdout: '' });
    expect(none.stderr).toBe(
      'sluice: no vault master key: pass --master-key-file PATH or set SLUICE_MASTER_KEY (32 bytes, base64 or hex)\n',
    );
    const short = randomBytes(20).toString('hex');
    const bad = await sluice(inStore('secrets', 'list'), { masterKey: short });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('sluice: SLUICE_MASTER_KEY: the master key must be 32 bytes');
    expect(bad.stderr).not.toContain(short);
  });

  it('an invalid name is refused before anything is read or written', async () => {
    const run = await sluice(inStore('secrets', 'set', 'Bad Name'), { input: 'x', masterKey: KEY });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('sluice: invalid secret name "Bad Name"');
  });
});
