/**
 * Statement policy through the gateway against real PostgreSQL, beyond the corpus cases
 * (pg-guardrails.test.ts): result limits (53400, the statement cancelled upstream, no partial
 * row), review decisions, unparseable text, the pinned parser settings, and pgbench with the
 * default guardrails on.
 */
import fc from 'fast-check';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawGatewayClient, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { gatewayClient } from '../helpers/pg-client.ts';
import { adminQuery, createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from '../helpers/postgres.ts';
import { errorsIn, type RawClient, type RawFrame } from '../helpers/raw-client.ts';
import { run } from '../helpers/run.ts';

let db: TestDatabase;
let gw: TestGateway;
const keys: Record<string, string> = {};

const GROUPS = {
  plain: '',
  stmt: '    limits: { rowsPerStatement: 100 }',
  session: '    limits: { rowsPerSession: 150 }',
  bytes: '    limits: { bytesPerSession: 2KiB }',
  rate: '    limits: { rowsPerMinute: 120 }',
  review:
    '    rules: [{ name: writes-need-review, action: review, effects: [write] }]\n    review: { mode: ticket }',
  relaxed: '    guardrails: { protectedSettings: allow }',
  writes: '    limits: { affectedRowsPerSession: 10 }',
} as const;
type Group = keyof typeof GROUPS;

beforeAll(async () => {
  db = await createTestDatabase('sluice_policy');
  await adminQuery(
    `CREATE TABLE big(id int primary key, body text);
     INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
     ALTER TABLE big OWNER TO ${db.role};`,
    db.name,
  );
  const policies = Object.entries(GROUPS)
    .map(
      ([group, extra]) =>
        `  - name: ${group}\n    subjects: { groups: [${group}] }\n    connections: [app]\n${extra}`,
    )
    .join('\n');
  gw = await startTestGateway({
    yaml: `connections:
  - name: app
    type: postgres
    url: postgres://${db.role}@${PG_HOST}:${PG_PORT}/${db.name}
policies:
${policies}
`,
  });
  for (const group of Object.keys(GROUPS)) keys[group] = await gw.createKey(group, [group]);
});

afterAll(async () => {
  await gw?.close();
  await db?.drop();
});

async function client(group: Group): Promise<pg.Client> {
  const c = gatewayClient(gw, keys[group] ?? '');
  await c.connect();
  return c;
}

/** Runs `body` with a fresh gateway client of `group`'s key, closing it afterwards. */
async function withClient(group: Group, body: (c: pg.Client) => Promise<void>): Promise<void> {
  const c = await client(group);
  try {
    await body(c);
  } finally {
    await c.end();
  }
}

async function failure(c: pg.Client, sql: string): Promise<{ code: string; message: string; hint?: string }> {
  const error = await c.query(sql).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string; hint?: string },
  );
  if (error === undefined) throw new Error(`expected "${sql}" to fail`);
  return error;
}

function rawClient(group: Group): Promise<RawClient> {
  return rawGatewayClient(gw, keys[group] ?? '');
}

async function rawQuery(raw: RawClient, sql: string): Promise<RawFrame[]> {
  await raw.send([{ type: 'Query', query: sql }]);
  return raw.readUntil(1, 20_000);
}

const rowCount = async (sql: string) => Number((await adminQuery<{ n: string }>(sql, db.name))[0]?.n);

describe('result limits', () => {
  it('rows per statement: 53400 naming the limit, no partial row, the statement cancelled upstream', async () => {
    const raw = await rawClient('stmt');
    try {
      // 25 million streamed rows: only a cancel ends it quickly.
      const frames = await rawQuery(raw, 'SELECT a.id, b.body FROM big a CROSS JOIN big b');
      const tags = frames.map((f) => f.tag);
      expect(tags.filter((t) => t === 'D')).toHaveLength(100);
      expect(tags.slice(-2)).toEqual(['E', 'Z']);
      const error = errorsIn(frames)[0];
      expect(error?.C).toBe('53400');
      expect(error?.M).toBe('sluice: limit exceeded: rows per statement (100) of policy "stmt"');
      expect(error?.H).toMatch(/cancelled/);
      // The server is idle again, and the session still works.
      const active = await adminQuery<{ n: string }>(
        `SELECT count(*) AS n FROM pg_stat_activity WHERE usename = '${db.role}' AND state = 'active' AND query LIKE '%CROSS JOIN%'`,
      );
      expect(Number(active[0]?.n)).toBe(0);
      expect(errorsIn(await rawQuery(raw, 'SELECT count(*) FROM big'))).toEqual([]);
    } finally {
      await raw.close();
    }
  });

  it('rows per statement: statements within the limit are untouched, and each statement counts afresh', async () => {
    await withClient('stmt', async (c) => {
      for (let i = 0; i < 3; i++) expect((await c.query('SELECT * FROM big LIMIT 100')).rowCount).toBe(100);
      expect((await failure(c, 'SELECT * FROM big')).code).toBe('53400');
    });
  });

  it('rows per session accumulate across statements', async () => {
    await withClient('session', async (c) => {
      expect((await c.query('SELECT * FROM big LIMIT 70')).rowCount).toBe(70);
      expect((await c.query('SELECT * FROM big LIMIT 70')).rowCount).toBe(70);
      const error = await failure(c, 'SELECT * FROM big LIMIT 70');
      expect(error.message).toBe('sluice: limit exceeded: rows per session (150) of policy "session"');
    });
    // A new session starts from zero.
    await withClient('session', async (fresh) => {
      expect((await fresh.query('SELECT * FROM big LIMIT 150')).rowCount).toBe(150);
    });
  });

  it('result bytes per session', async () => {
    await withClient('bytes', async (c) => {
      expect((await c.query('SELECT * FROM big LIMIT 5')).rowCount).toBe(5);
      const error = await failure(c, "SELECT repeat('x', 4000)");
      expect(error.code).toBe('53400');
      expect(error.message).toContain('result bytes per session (2048)');
    });
  });

  it('rows per minute are per principal, across its sessions', async () => {
    const a = await client('rate');
    const b = await client('rate');
    try {
      expect((await a.query('SELECT * FROM big LIMIT 100')).rowCount).toBe(100);
      expect((await b.query('SELECT * FROM big LIMIT 20')).rowCount).toBe(20);
      const error = await failure(b, 'SELECT * FROM big LIMIT 5');
      expect(error.message).toBe('sluice: limit exceeded: rows per minute (120) of policy "rate"');
      expect(error.hint).toMatch(/Wait a minute/);
      // Another principal has its own budget.
      await withClient('plain', async (other) => {
        expect((await other.query('SELECT * FROM big LIMIT 500')).rowCount).toBe(500);
      });
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('applies to COPY TO STDOUT rows too', async () => {
    const raw = await rawClient('stmt');
    try {
      const frames = await rawQuery(raw, 'COPY big TO STDOUT');
      expect(frames.filter((f) => f.tag === 'd')).toHaveLength(100);
      expect(errorsIn(frames)[0]?.C).toBe('53400');
      expect(errorsIn(await rawQuery(raw, 'SELECT 1'))).toEqual([]);
    } finally {
      await raw.close();
    }
  });
});

describe('affected rows', () => {
  it('split writes add up: past the session budget further writes are refused, reads still work', async () => {
    await withClient('writes', async (c) => {
      expect((await c.query('UPDATE big SET body = body WHERE id <= 6')).rowCount).toBe(6);
      expect((await c.query('DELETE FROM big WHERE id BETWEEN 4990 AND 4994')).rowCount).toBe(5);
      const error = await failure(c, 'DELETE FROM big WHERE id = 4995');
      expect(error.code).toBe('53400');
      expect(error.message).toBe('sluice: limit exceeded: affected rows per session (10) of policy "writes"');
      expect(await rowCount('SELECT count(*) AS n FROM big WHERE id = 4995')).toBe(1);
      expect((await c.query('SELECT count(*) FROM big')).rows).toEqual([{ count: '4995' }]);
    });
    const log = gw.logs.filter((line) => line.includes('"rows affected"'));
    expect(log.some((line) => line.includes('"command":"DELETE"') && line.includes('"rows":5'))).toBe(true);
  });
});

describe('decisions', () => {
  it('review in ticket mode refuses with "approval required" and a ticket, and nothing runs', async () => {
    await withClient('review', async (c) => {
      const error = await failure(c, 'DELETE FROM big WHERE id = 1');
      expect(error.code).toBe('42501');
      expect(error.message).toMatch(
        /^sluice: blocked by policy "review": approval required \(ticket apv_[0-9a-f]+\): /,
      );
      expect(error.hint).toMatch(/rule writes-need-review/);
      expect(await rowCount('SELECT count(*) AS n FROM big WHERE id = 1')).toBe(1);
      expect(await rowCount('SELECT count(*) AS n FROM big WHERE id = 1')).toBe(1);
    });
  });

  it('value-bearing catalogs are refused by default (corpus 121)', async () => {
    await withClient('plain', async (c) => {
      for (const sql of [
        'SELECT query FROM pg_stat_activity',
        'SELECT statement FROM pg_prepared_statements',
        'SELECT histogram_bounds FROM pg_stats',
      ]) {
        const error = await failure(c, sql);
        expect(error.message, sql).toMatch(/holds values of other tables or other sessions' SQL/);
      }
      expect((await c.query('SELECT count(*) > 0 AS ok FROM pg_class')).rows).toEqual([{ ok: true }]);
    });
  });

  it('text the parser rejects is refused, never forwarded, and the session survives', async () => {
    await withClient('plain', async (c) => {
      const error = await failure(c, 'SELEC 1');
      expect(error.code).toBe('42501');
      expect(error.message).toMatch(/the statement could not be parsed: syntax error at or near "SELEC"/);
      expect((await c.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    });
  });

  it('a refused statement inside a transaction aborts it, as a server error would', async () => {
    await withClient('plain', async (c) => {
      await c.query('BEGIN');
      await c.query("UPDATE big SET body = 'changed' WHERE id = 2");
      expect((await failure(c, 'DROP TABLE big')).code).toBe('42501');
      expect((await failure(c, 'SELECT 1')).code).toBe('25P02');
      await c.query('ROLLBACK');
      expect((await c.query('SELECT body FROM big WHERE id = 2')).rows).toEqual([{ body: 'row 2' }]);
      const metrics = await gw.gateway.metrics.registry.metrics();
      expect(metrics).toMatch(
        /sluice_statements_refused_total\{protocol="postgres",decision="deny",rule="guardrail destructiveDdl"\} [1-9]/,
      );
    });
  });
});

describe('mutated attacks through the gateway', () => {
  /** Case flips, comments and whitespace between tokens, quoting and U& escapes of identifiers. */
  const token = (word: string) =>
    fc.oneof(
      fc.constant(word),
      fc
        .array(fc.boolean(), { minLength: word.length, maxLength: word.length })
        .map((flips) => [...word].map((ch, i) => (flips[i] ? ch.toUpperCase() : ch.toLowerCase())).join('')),
    );
  const identifier = (name: string) =>
    fc.constantFrom(
      name,
      `"${name}"`,
      `U&"\\${name.charCodeAt(0).toString(16).padStart(4, '0')}${name.slice(1)}"`,
      `public.${name}`,
      `"public"."${name}"`,
    );
  const gap = fc.constantFrom(' ', '\t', '\n', '/**/', ' /* x /* nested */ y */ ', ' -- c\n', '  ');
  const statement = (...parts: fc.Arbitrary<string>[]) =>
    fc
      .tuple(...parts.map((part) => fc.tuple(part, gap)))
      .map((pairs) => pairs.map(([p, g]) => p + g).join(''));
  const attacks = fc.oneof(
    statement(token('drop'), token('table'), identifier('big')),
    statement(token('truncate'), identifier('big')),
    statement(token('delete'), token('from'), identifier('big')),
    statement(
      token('delete'),
      token('from'),
      identifier('big'),
      token('where'),
      fc.constantFrom('1=1', 'true', 'id=id'),
    ),
    statement(token('select'), fc.constant("pg_read_file('/etc/passwd')")),
    statement(token('set'), token('role'), fc.constant('postgres')),
  );

  it('never turns a refusal into an allow, and the table survives', async () => {
    await withClient('plain', async (c) => {
      await fc.assert(
        fc.asyncProperty(attacks, async (sql) => {
          const error = await failure(c, sql);
          expect(error.code, sql).toBe('42501');
        }),
        { numRuns: 60 },
      );
      expect(await rowCount('SELECT count(*) AS n FROM big')).toBeGreaterThan(4000);
    });
  });
});

describe('pinned parser settings', () => {
  it('a role-level standard_conforming_strings=off never reaches gateway sessions', async () => {
    await adminQuery(`ALTER ROLE ${db.role} SET standard_conforming_strings = off`);
    try {
      await withClient('plain', async (c) => {
        expect((await c.query('SHOW standard_conforming_strings')).rows).toEqual([
          { standard_conforming_strings: 'on' },
        ]);
      });
    } finally {
      await adminQuery(`ALTER ROLE ${db.role} RESET standard_conforming_strings`);
    }
  });

  it('the guardrail refuses changing them; with it relaxed, the server reporting a change ends the session', async () => {
    await withClient('plain', async (plain) => {
      const error = await failure(plain, 'SET standard_conforming_strings = off');
      expect(error.message).toMatch(/setting "standard_conforming_strings" changes how the server parses/);
    });
    const relaxed = await client('relaxed');
    const ended = new Promise<void>((resolve) => relaxed.once('end', () => resolve()));
    const error = await failure(relaxed, 'SET standard_conforming_strings = off');
    expect(error.code).toBe('08006');
    expect(error.message).toMatch(/reported standard_conforming_strings=off/);
    await ended;
  });
});

describe('pgbench with the default guardrails on', () => {
  it('runs select-only in simple, extended and prepared modes without errors', async () => {
    const direct = { PGHOST: PG_HOST, PGPORT: String(PG_PORT), PGUSER: db.role, PGDATABASE: db.name };
    const init = await run('pgbench', ['-i', '-s', '1', '-q'], { env: direct, timeoutMs: 120_000 });
    expect(init.code, init.stderr).toBe(0);
    const viaGateway = {
      PGHOST: gw.host,
      PGPORT: String(gw.port),
      PGUSER: 'agent',
      PGPASSWORD: keys.plain ?? '',
      PGDATABASE: 'app',
      PGSSLMODE: 'require',
    };
    for (const mode of ['simple', 'extended', 'prepared']) {
      const bench = await run('pgbench', ['-S', '-n', '-M', mode, '-c', '2', '-t', '200'], {
        env: viaGateway,
        timeoutMs: 120_000,
      });
      expect(bench.code, bench.stderr).toBe(0);
      expect(bench.stdout).toMatch(/number of failed transactions: 0/);
    }
  });
});
