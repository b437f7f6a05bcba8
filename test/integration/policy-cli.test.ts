/** `sluice policy check|test` run as a real subprocess, the way operators and CI scripts run it. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, run } from '../helpers/run.ts';

const CLI = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));

const sluice = (...args: string[]): Promise<RunResult> => run(process.execPath, [CLI, ...args]);

const CONFIG = `version: 1
requires: [statement-rules, guardrails, claims, row-limits]
connections:
  - name: app
    type: postgres
    url: postgres://agent@127.0.0.1:5432/app
    password: env:SLUICE_POLICY_CLI_TEST_UNSET
    tags: [prod]
policies:
  - name: readonly-agent
    subjects: { groups: [agents] }
    connections: [app]
    default: deny
    rules:
      - { name: reads, action: allow, effects: [read], tables: ["public.*"] }
    limits: { rowsPerStatement: 1000 }
  - name: migrations
    subjects: { groups: [ci], claims: { ref: refs/heads/main } }
    connectionTags: [prod]
    rules:
      - { name: ddl-review, action: review, effects: [ddl] }
    guardrails:
      destructiveDdl: review
    limits: { rowsPerMinute: 100 }
`;

describe('sluice policy', () => {
  let dir = '';
  let config = '';
  let broken = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-policy-cli-'));
    config = join(dir, 'sluice.yaml');
    broken = join(dir, 'broken.yaml');
    await writeFile(config, CONFIG);
    await writeFile(
      broken,
      CONFIG.replace('default: deny', 'default: maybe').replace(
        'destructiveDdl: review',
        'destructiveDdl: { except: [x] }',
      ),
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('check summarizes a valid file (no env: secrets needed) and exits 0', async () => {
    const r = await sluice('policy', 'check', '--config', config);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain('OK (1 connection, 2 policies)');
    expect(r.stdout).toMatch(/policy migrations\n\s+subjects\s+groups ci; claim ref="refs\/heads\/main"/);
    expect(r.stdout).toMatch(/connections\s+tags prod/);
    expect(r.stdout).toMatch(/guardrails\s+relaxed: destructiveDdl=review/);
    expect(r.stdout).toMatch(/limits\s+rowsPerMinute 100/);
    expect(r.stdout).toMatch(
      /policy readonly-agent[\s\S]*default\s+deny[\s\S]*rules\s+1[\s\S]*guardrails\s+all on/,
    );
  });

  it('check reports every problem as file:line:col path: message on stderr and exits 1', async () => {
    const r = await sluice('policy', 'check', '--config', broken);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${broken}:13:14 policies[0].default: expected one of allow|review|deny`);
    expect(r.stderr).toMatch(new RegExp(`${broken}:\\d+:\\d+ policies\\[1\\]\\.guardrails\\.destructiveDdl`));
  });

  it('check reports a missing file and exits 1', async () => {
    const r = await sluice('policy', 'check', '--config', join(dir, 'nope.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read the config file (ENOENT)');
  });

  const test = (as: string, sql: string, ...extra: string[]) =>
    sluice('policy', 'test', '--config', config, '--as', as, '--connection', 'app', sql, ...extra);

  it('test: allow exits 0 and names the rule, with the facts and the limits', async () => {
    const r = await test('groups=agents', 'SELECT count(*) FROM customers');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/kind\s+SelectStmt/);
    expect(r.stdout).toMatch(/reads\s+customers/);
    expect(r.stdout).toMatch(/functions\s+count/);
    expect(r.stdout).toMatch(/\ndecision\s+allow \(policy "readonly-agent", rule reads\)/);
    expect(r.stdout).toMatch(/rowsPerStatement\s+1000 \(policy "readonly-agent"\)/);
  });

  it('test: deny exits 1 and shows the refusal the client would get', async () => {
    const r = await test('groups=agents', 'SELECT 1; DELETE FROM notes');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('statement 2');
    expect(r.stdout).toMatch(/write\s+delete notes \(WHERE: none\)/);
    expect(r.stdout).toMatch(/\ndecision\s+deny \(policy "readonly-agent", guardrail unboundedWrites\)/);
    expect(r.stdout).toContain(
      'ERROR 42501 sluice: blocked by policy "readonly-agent": DELETE of "notes" has no WHERE clause',
    );
  });

  it('test: review exits 2; claims and connection tags select the policy', async () => {
    const r = await test('groups=ci,kind=workload,claim.ref=refs/heads/main', 'DROP TABLE old_orders');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/policies\s+migrations/);
    expect(r.stdout).toMatch(/destructive\s+yes/);
    expect(r.stdout).toMatch(/\ndecision\s+review/);
    expect(r.stdout).toContain('approval required');
    expect(r.stdout).toMatch(/rowsPerMinute\s+100/);
  });

  it('test: a principal no policy matches is not granted the connection (exit 1)', async () => {
    const r = await test('groups=ci,claim.ref=refs/heads/feature', 'SELECT 1');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('connection "app" is not granted');
  });

  it('test: SQL-level EXECUTE is unknown in a dry run, and says why', async () => {
    const r = await test('groups=agents', 'EXECUTE p(1)');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/decision\s+deny \(policy "readonly-agent", unanalyzable\)/);
    expect(r.stdout).toContain('a dry run has no session, so no PREPARE stored it');
  });

  it('test --json prints one object with facts, decision, error and limits', async () => {
    const r = await test('groups=agents,groups=ci', 'UPDATE notes SET body = 1 WHERE id = 2', '--json');
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      connection: 'app',
      policies: ['readonly-agent'],
      decision: { action: 'deny', policy: 'readonly-agent', rule: 'default' },
      error: { sqlstate: '42501' },
      limits: { rowsPerStatement: { value: 1000, policy: 'readonly-agent' } },
      statements: [
        { facts: { kind: 'UpdateStmt', writes: [{ kind: 'update', table: 'notes', predicate: 'present' }] } },
      ],
    });
  });

  it('test: a malformed --as or an unknown connection exits 1 with a message', async () => {
    const bad = await test('groups', 'SELECT 1');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('"groups" is not KEY=VALUE');
    const r = await sluice(
      'policy',
      'test',
      '-c',
      config,
      '--as',
      'groups=agents',
      '--connection',
      'nope',
      'SELECT 1',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no connection named "nope"');
  });

  it('--help documents the --as syntax and the exit codes', async () => {
    const r = await sluice('policy', 'test', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('claim.NAME=VALUE');
    expect(r.stdout).toContain('Exit status: 0 allow, 1 deny (or an error), 2 review.');
  });
});
