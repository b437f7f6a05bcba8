/** `sluice keys …` run as a real subprocess, the way operators and CI scripts run it. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY_PATTERN, ApiKeyAuthenticator } from '../../src/identity/api-keys.ts';
import { openStore } from '../../src/store/open-store.ts';
import { type RunResult, run } from '../helpers/run.ts';

const CLI = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], { env });
}

describe('sluice keys', () => {
  let dir = '';
  let store = '';
  const withStore = (...args: string[]) => sluice([...args, '--store', store]);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-keys-cli-'));
    store = `pglite://${join(dir, 'store')}`;
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  let created: { id: string; key: string };

  it('create --json prints exactly one JSON object holding the key', async () => {
    const run = await withStore('keys', 'create', '--name', 'ci', '--groups', 'ci,deploy', '--json');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    const output = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(output).sort()).toEqual(
      ['createdAt', 'expiresAt', 'groups', 'id', 'key', 'name', 'prefix'].sort(),
    );
    expect(output).toMatchObject({ name: 'ci', groups: ['ci', 'deploy'], expiresAt: null });
    expect(output.key).toMatch(API_KEY_PATTERN);
    expect(output.prefix).toBe(String(output.key).slice(0, 12));
    created = { id: String(output.id), key: String(output.key) };
  });

  it('the printed key authenticates against the store the CLI wrote', async () => {
    const opened = await openStore(store);
    try {
      const principal = await new ApiKeyAuthenticator(opened).authenticate(created.key);
      expect(principal).toMatchObject({ id: `key:${created.id}`, name: 'ci', groups: ['ci', 'deploy'] });
    } finally {
      await opened.close();
    }
  });

  it('list --json shows the key without the key or its hash', async () => {
    const run = await withStore('keys', 'list', '--json');
    expect(run.code).toBe(0);
    const listed = JSON.parse(run.stdout) as Record<string, unknown>[];
    expect(listed).toEqual([
      expect.objectContaining({
        id: created.id,
        name: 'ci',
        prefix: created.key.slice(0, 12),
        revokedAt: null,
      }),
    ]);
    expect(listed[0]).not.toHaveProperty('key');
    expect(listed[0]).not.toHaveProperty('hash');
    expect(run.stdout).not.toContain(created.key);
  });

  it('refuses a second active key with the same name: message, exit 1, no stack trace', async () => {
    const run = await withStore('keys', 'create', '--name', 'ci', '--groups', 'ci');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('an API key named "ci" already exists');
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('revoke by name, then list shows it revoked', async () => {
    const revoke = await withStore('keys', 'revoke', 'ci');
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain(`revoked ${created.id} (ci)`);
    const listed = JSON.parse((await withStore('keys', 'list', '--json')).stdout) as { revokedAt: unknown }[];
    expect(listed[0]?.revokedAt).toEqual(expect.any(String));
    const human = await withStore('keys', 'list');
    expect(human.stdout).toMatch(/^ID\s+NAME\s+PREFIX\s+GROUPS\s+CREATED\s+EXPIRES\s+REVOKED\s+LAST USED$/m);
    expect(human.stdout).not.toContain(created.key);
  });

  it('records create and revoke in the audit chain, naming the OS account and never the key', async () => {
    const opened = await openStore(store);
    try {
      const records = await opened.audit.range({});
      const actor = { id: `cli:${userInfo().username}`, kind: 'human', sourceAddress: 'local' };
      expect(records.map((r) => r.event)).toEqual([
        expect.objectContaining({
          type: 'key.created',
          actor: expect.objectContaining(actor),
          keyId: created.id,
        }),
        expect.objectContaining({
          type: 'key.revoked',
          actor: expect.objectContaining(actor),
          keyId: created.id,
        }),
      ]);
      expect(JSON.stringify(records)).not.toContain(created.key);
    } finally {
      await opened.close();
    }
  });

  it('revoke of an unknown key exits 1 with a clear message', async () => {
    const run = await withStore('keys', 'revoke', 'nope');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim()).toBe('sluice: no API key with id "nope" and no active key named "nope"');
  });

  it('create prints the key on its own line with its details and a warning', async () => {
    const run = await withStore(
      'keys',
      'create',
      '--name',
      'deploy-bot',
      '--groups',
      'deploy',
      '--expires',
      '30d',
    );
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(API_KEY_PATTERN);
    expect(run.stdout).toMatch(/^\s+name\s+deploy-bot$/m);
    expect(run.stdout).toMatch(/^\s+expires\s+\d{4}-\d\d-\d\dT/m);
    expect(run.stdout).toContain('will not be shown again');
  });

  it('rejects a bad --expires before touching the store', async () => {
    const run = await withStore('keys', 'create', '--name', 'x', '--groups', 'a', '--expires', 'soon');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('expected a positive duration');
  });

  it('finds the store through --config and through SLUICE_STORE', async () => {
    const config = join(dir, 'sluice.yaml');
    await writeFile(config, `store: ${store}\nconnections: []\n`);
    const viaConfig = await sluice(['keys', 'list', '--json', '--config', config]);
    expect(viaConfig.code).toBe(0);
    expect(JSON.parse(viaConfig.stdout)).toHaveLength(2);
    const viaEnv = await sluice(['keys', 'list', '--json'], { SLUICE_STORE: store });
    expect(viaEnv.code).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toHaveLength(2);
  });
});
