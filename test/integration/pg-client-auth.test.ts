/**
 * Client → gateway authentication with real clients (`pg`, and the real psql binary), in front of
 * the main PostgreSQL cluster.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { connectExpectingRefusal, observable } from '../helpers/refusal.ts';

let db: TestDatabase;
let gw: TestGateway;
/** Every credential presented in this file, valid or not; none may reach a log line. */
const presented: string[] = [];

beforeAll(async () => {
  db = await createTestDatabase('sluice_cauth');
  const url = `postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}`;
  gw = await startTestGateway({
    yaml: [
      'connections:',
      '  - name: app',
      '    type: postgres',
      `    url: ${url}`,
      '  - name: other',
      '    type: postgres',
      `    url: ${url}`,
      'policies:',
      '  - name: agents-app',
      '    subjects: { groups: [agents] }',
      '    connections: [app]',
      // This file measures the credential checks themselves, a hundred failures from one
      // address; the backoff that would otherwise hold those answers back is tested in brute-force.
      'identity:',
      '  backoff: { freeFailures: 100000 }',
    ].join('\n'),
  });
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

async function newKey(name: string, groups: string[], expiresInMs?: number): Promise<string> {
  const key = await gw.createKey(name, groups, expiresInMs);
  presented.push(key);
  return key;
}

function client(password: string, database = 'app'): pg.Client {
  const c = new pg.Client({
    host: gw.host,
    port: gw.port,
    user: 'agent',
    database,
    password,
    ssl: { rejectUnauthorized: false },
  });
  c.on('error', () => undefined);
  return c;
}

/** Connects and expects a refusal; returns the error the client got. */
async function refusal(password: string, database = 'app'): Promise<pg.DatabaseError> {
  return connectExpectingRefusal(client(password, database), 'the connection');
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? 0)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

describe('API keys as PostgreSQL passwords', () => {
  it('a valid key logs in over TLS and runs queries upstream', async () => {
    const key = await newKey('valid-agent', ['agents']);
    const c = client(key);
    await c.connect();
    try {
      const { rows } = await c.query<{ db: string; u: string }>(
        'SELECT current_database() AS db, current_user AS u',
      );
      expect(rows).toEqual([{ db: db.name, u: db.role }]);
    } finally {
      await c.end();
    }
  });

  describe('every bad credential', () => {
    const cases: Record<string, string> = {};
    beforeAll(async () => {
      cases.wrong = `slk_${randomBytes(32).toString('base64url')}`;
      cases.revoked = await newKey('revoked-agent', ['agents']);
      expect(await gw.store.apiKeys.revoke('revoked-agent')).toBeDefined();
      cases.expired = await newKey('expired-agent', ['agents'], 1);
      cases.garbage = `garbage-${randomBytes(6).toString('hex')}`;
      cases.empty = '';
      presented.push(cases.wrong, cases.garbage);
      await new Promise((resolve) => setTimeout(resolve, 20));
    });

    it('wrong, revoked, expired, garbage and empty all get the identical 28P01', async () => {
      expect(Object.keys(cases)).toHaveLength(5);
      for (const [name, password] of Object.entries(cases)) {
        expect(observable(await refusal(password)), name).toEqual({
          code: '28P01',
          severity: 'FATAL',
          message: 'sluice: password authentication failed',
          detail: undefined,
          hint: 'Use a Sluice API key (slk_…) or an OIDC token from a configured issuer as the password, over TLS (sslmode=require).',
        });
      }
    });

    it('and in similar time (median of 20 each)', async () => {
      const timings: Record<string, number[]> = Object.fromEntries(
        Object.keys(cases).map((name) => [name, []]),
      );
      // Interleaved rounds, so a slow moment of the machine hits every case alike.
      for (let round = 0; round < 20; round++) {
        for (const [name, password] of Object.entries(cases)) {
          const started = performance.now();
          const error = await refusal(password);
          timings[name]?.push(performance.now() - started);
          expect(error.code, name).toBe('28P01');
        }
      }
      const medians = Object.fromEntries(
        Object.entries(timings).map(([name, times]) => [name, median(times)]),
      );
      const values = Object.values(medians);
      // "Similar", not a benchmark: a generous bound that only a separate slow or fast path breaks.
      expect(Math.max(...values) / Math.min(...values), JSON.stringify(medians)).toBeLessThan(3);
    });
  });

  it('a bad key asking for an unknown connection gets 28P01, not a hint that the name is wrong', async () => {
    const wrong = `slk_${randomBytes(32).toString('base64url')}`;
    presented.push(wrong);
    const error = await refusal(wrong, 'no-such-connection');
    expect(error.code).toBe('28P01');
    expect(error.message).toBe('sluice: password authentication failed');
  });
});

describe('authorization after authentication', () => {
  it('an unknown connection name is 3D000', async () => {
    const key = await newKey('unknown-conn-agent', ['agents']);
    const error = await refusal(key, 'no-such-connection');
    expect(error.code).toBe('3D000');
    expect(error.message).toBe('sluice: unknown connection "no-such-connection"');
  });

  it('a key whose groups no policy names is 42501 "blocked by policy"', async () => {
    const key = await newKey('ungranted-agent', ['nobody-grants-this']);
    const error = await refusal(key, 'app');
    expect(error.code).toBe('42501');
    expect(error.message.startsWith('sluice: blocked by policy')).toBe(true);
    expect(error.message).toContain('"ungranted-agent"');
  });

  it('a granted key asking for a connection its policy does not list is 42501', async () => {
    const key = await newKey('app-only-agent', ['agents']);
    const error = await refusal(key, 'other');
    expect(error.code).toBe('42501');
    expect(error.message.startsWith('sluice: blocked by policy')).toBe(true);
  });
});

describe('TLS is required on the listener', () => {
  it('pg with ssl off gets 28000 "TLS required" before any password is asked for', async () => {
    const key = await newKey('plaintext-agent', ['agents']);
    let asked = 0;
    const c = new pg.Client({
      host: gw.host,
      port: gw.port,
      user: 'agent',
      database: 'app',
      ssl: false,
      // pg calls this only when the server asks for a password.
      password: () => {
        asked++;
        return key;
      },
    });
    c.on('error', () => undefined);
    const error: unknown = await c.connect().then(
      () => c.end().then(() => undefined),
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(pg.DatabaseError);
    expect((error as pg.DatabaseError).code).toBe('28000');
    expect((error as pg.DatabaseError).message).toBe('sluice: TLS required');
    expect(asked).toBe(0);
  });

  it('psql with sslmode=disable gets FATAL "TLS required"', async () => {
    const key = await newKey('psql-agent', ['agents']);
    const conninfo = `host=${gw.host} port=${gw.port} dbname=app user=agent sslmode=disable connect_timeout=5`;
    const result = await new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
      const child = execFile(
        'psql',
        ['-X', '-w', '-d', conninfo, '-c', 'SELECT 1'],
        { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: key, LANG: 'C', LC_ALL: 'C' } },
        (_error, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/FATAL: {2}sluice: TLS required/);
    expect(result.stderr).toMatch(/HINT: {2}Connect with sslmode=require/);
    expect(result.stderr).not.toContain(key);
  });
});

describe('secrets', () => {
  it('no key or password presented in this file appears in any gateway log line', () => {
    expect(gw.logs.join('')).toContain('authentication failed');
    expect(presented.length).toBeGreaterThan(8);
    const logs = gw.logs.join('');
    for (const credential of presented) {
      // A key's first 12 characters are its public display prefix; no run of its secret part may show.
      const secretParts = credential.startsWith('slk_')
        ? [credential.slice(12, 24), credential.slice(24, 36), credential.slice(-12)]
        : [credential];
      for (const part of secretParts) {
        expect(logs.includes(part), `part of ${credential.slice(0, 12)}… leaked into the logs`).toBe(false);
      }
    }
  });
});
