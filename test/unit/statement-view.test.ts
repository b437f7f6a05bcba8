import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type BoundParameter,
  bindingHash,
  escapeForDisplay,
  viewStatement,
} from '../../src/approvals/statement-view.ts';
import { createScanner } from '../../src/dlp/index.ts';
import { initSqlParser } from '../../src/sql/postgres/index.ts';

const scanner = createScanner({ detectors: {}, custom: [], hashKey: Buffer.alloc(32) });
const CARD = '4111111111111111';

function view(sql: string, parameters: readonly BoundParameter[] = []) {
  return viewStatement(sql, parameters, scanner);
}

function text(value: string): BoundParameter {
  return { value: Buffer.from(value), format: 0 };
}

beforeAll(() => initSqlParser());

describe('canonical text', () => {
  it('is the same whatever the whitespace, keyword case and comments', () => {
    const a = view('select id, name from users where id > 10');
    const b = view('SELECT  id,\n\tname -- who\nFROM users /* all */ WHERE id>10;');
    expect(a.canonical).toBe(true);
    expect(b.normalized).toBe(a.normalized);
    expect(b.display).toBe(a.display);
    expect(b.redacted).toBe(a.redacted);
  });

  it('keeps literals, so a different literal is a different statement', () => {
    const a = view('delete from t where id > 0');
    const b = view('delete from t where id > 10');
    expect(a.normalized).not.toBe(b.normalized);
    expect(a.redacted).toBe(b.redacted);
    const hash = (normalized: string) =>
      bindingHash({ principalId: 'p', connection: 'c', normalized, parameters: [] });
    expect(hash(a.normalized)).not.toBe(hash(b.normalized));
  });

  it('joins several statements one per line', () => {
    const v = view("update t set a = 'x'; delete from t where b = 2");
    expect(v.normalized).toBe("UPDATE t SET a = 'x';\nDELETE FROM t WHERE b = 2");
    expect(v.redacted).toBe('UPDATE t SET a = ?;\nDELETE FROM t WHERE b = ?');
    expect(v.display.split('\n')).toHaveLength(2);
  });

  it('refuses a canonical text that parses back to a different statement', () => {
    // The deparser does not double a `"` inside an identifier: this would come out as
    // SELECT "A" AS "B", a different statement, so the view fails closed instead.
    const v = view('select "A"" AS ""B"');
    expect(v.canonical).toBe(false);
    expect(v.normalized).toBe('select "A"" AS ""B"');
  });
});

describe('literals', () => {
  it('masks a card and an email in display and keeps them out of redacted', () => {
    const v = view("select * from t where card = '4111 1111 1111 1111' or email = 'alice@example.com'");
    expect(v.display).toContain('************1111');
    expect(v.display).not.toContain('4111 1111');
    expect(v.display).not.toContain('alice@example.com');
    expect(v.redacted).toBe('SELECT * FROM t WHERE card = ? OR email = ?');
    expect(v.normalized).toContain('4111 1111 1111 1111');
  });

  it('masks a card written as a bare number', () => {
    const v = view(`select * from t where pan = ${CARD}`);
    expect(v.display).toBe('SELECT * FROM t WHERE pan = ************1111');
    expect(v.redacted).not.toContain('4111');
    expect(v.redacted).toBe('SELECT * FROM t WHERE pan = ?');
  });

  it('covers dollar-quoted, E, bit, hex, typed and array literals', () => {
    const v = view(
      `select $$${CARD}$$, $q$it's$q$, E'a\\\\b\\'c', B'101', X'ff', date '2020-01-01', ARRAY['a', 'b'], 1.5e10, -7`,
    );
    expect(v.canonical).toBe(true);
    expect(v.redacted).toBe('SELECT ?, ?, ?, ?, ?, ?::date, ARRAY[?, ?], ?, -?');
    expect(v.display).toContain("'************1111'");
    expect(v.display).toContain("E'a\\\\b''c'");
  });

  it('replaces literals outside expressions too: passwords, function bodies, comments', () => {
    const statements = [
      "alter role bob password 'hunter2-secret'",
      "create function f() returns int as $$ select 'hunter2-secret' $$ language sql",
      "comment on table t is 'hunter2-secret'",
      "notify ch, 'hunter2-secret'",
    ];
    for (const sql of statements) {
      const v = view(sql);
      expect(v.canonical, sql).toBe(true);
      expect(v.redacted, sql).not.toContain('hunter2');
    }
  });

  it('never lets a string or identifier spelling break out of its token', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary', minLength: 1 }),
        (value, name) => {
          const literal = `'${value.replaceAll("'", "''")}'`;
          const identifier = `"${name.replaceAll('"', '""')}"`;
          const v = view(`select ${literal} as ${identifier}, $tag$${value}$tag$`);
          if (!v.canonical) return;
          expect(v.redacted.startsWith('SELECT ? AS ')).toBe(true);
          expect(v.redacted.endsWith(', ?')).toBe(true);
          expect(v.display).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps identifiers and parameter references', () => {
    const v = view('insert into "Orders" (id, total) values ($1, $2)');
    expect(v.redacted).toBe('INSERT INTO "Orders" (id, total) VALUES ($1, $2)');
  });
});

describe('invisible characters', () => {
  it('escapes bidi overrides and controls inside a literal', () => {
    const v = view("select 'abc\u202Edef', E'line\\nnext\\ttab\\x01'");
    expect(v.display).toBe("SELECT 'abc\\u{202E}def', 'line\\u{000A}next\\u{0009}tab\\u{0001}'");
    expect(v.redacted).toBe('SELECT ?, ?');
  });

  it('escapes them inside an identifier, where they also reach redacted', () => {
    const v = view('select * from "a\u202Eb"');
    expect(v.display).toBe('SELECT * FROM "a\\u{202E}b"');
    expect(v.redacted).toBe('SELECT * FROM "a\\u{202E}b"');
  });

  it('escapeForDisplay renders every kind visibly and leaves plain text alone', () => {
    expect(escapeForDisplay('ok: plain text, ünïcode')).toBe('ok: plain text, ünïcode');
    expect(escapeForDisplay('\u200B\u200F\u2066\u2069\uFEFF\u061C\u00A0\u007F\u0085\r')).toBe(
      '\\u{200B}\\u{200F}\\u{2066}\\u{2069}\\u{FEFF}\\u{061C}\\u{00A0}\\u{007F}\\u{0085}\\u{000D}',
    );
    expect(escapeForDisplay('\u{E0041}\uD800')).toBe('\\u{E0041}\\u{D800}');
  });
});

describe('parameters', () => {
  it('shows text masked and quoted, binary by size and NULL', () => {
    const v = view('select $1, $2, $3, $4', [
      text(CARD),
      text("o'brien\u202E"),
      { value: Buffer.from([1, 2, 3]), format: 1 },
      { value: null, format: 0 },
    ]);
    expect(v.parameters).toEqual(["'************1111'", "'o''brien\\u{202E}'", '<binary 3 bytes>', 'NULL']);
  });
});

describe('fail closed', () => {
  it('shows the raw text masked and escaped, and no statement in redacted', () => {
    const v = view(`selec * from t where pan = ${CARD}\u202E`);
    expect(v.canonical).toBe(false);
    expect(v.display.startsWith('[not canonicalized] ')).toBe(true);
    expect(v.display).not.toContain(CARD);
    expect(v.display).not.toContain('\u202E');
    expect(v.redacted).toBe('[statement not shown: it could not be canonicalized]');
    expect(v.normalized).toBe(`selec * from t where pan = ${CARD}\u202E`);
  });
});

describe('bindingHash', () => {
  const base = {
    principalId: 'user:1',
    connection: 'prod',
    normalized: 'SELECT $1',
    parameters: [text('a')],
  };
  const hash = (changes: Partial<typeof base>) => bindingHash({ ...base, ...changes });

  it('is a stable SHA-256 hex digest', () => {
    expect(hash({})).toMatch(/^[0-9a-f]{64}$/);
    expect(hash({})).toBe(hash({ parameters: [text('a')] }));
  });

  it('distinguishes every bound input', () => {
    const variants = [
      hash({}),
      hash({ parameters: [text('b')] }),
      hash({ parameters: [{ value: Buffer.from('a'), format: 1 }] }),
      hash({ parameters: [text('')] }),
      hash({ parameters: [{ value: null, format: 0 }] }),
      hash({ parameters: [] }),
      hash({ parameters: [text('a'), text('')] }),
      hash({ principalId: 'user:2' }),
      hash({ connection: 'staging' }),
      hash({ normalized: 'SELECT $2' }),
      // Shifting text between fields must not collide.
      hash({ principalId: 'user:1prod', connection: '' }),
    ];
    expect(new Set(variants).size).toBe(variants.length);
  });
});
