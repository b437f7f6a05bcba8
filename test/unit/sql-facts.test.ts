import type { Node } from '@pgsql/types';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyze, initSqlParser, type StatementFacts } from '../../src/sql/postgres/index.ts';
import { statementFacts } from '../../src/sql/postgres/walk.ts';

beforeAll(async () => {
  await initSqlParser();
});

type Expected = Record<string, unknown>;

/** A read-only statement that touches exactly these tables and nothing else. */
function readOnly(tables: string[], functions: string[] = []): Expected {
  return {
    kind: 'SelectStmt',
    effects: ['read'],
    writes: [],
    tables: { read: tables, written: [] },
    functions,
    settings: [],
    destructive: false,
  };
}

const DROP_CUSTOMERS: Expected = {
  kind: 'DropStmt',
  effects: ['ddl'],
  destructive: true,
  tables: { read: [], written: ['customers'] },
};

// Corpus section A: text that merely *mentions* dangerous SQL must come out read-only, no DDL.
const FALSE_POSITIVES: [string, string, Expected[]][] = [
  [
    'A1 comment contains DROP',
    'SELECT id, name FROM customers WHERE id = 1 -- TODO: never DROP this table',
    [readOnly(['customers'])],
  ],
  ['A2 keyword literals', "SELECT 'DELETE' AS verb, 'DROP TABLE customers;' AS note", [readOnly([])]],
  ['A4 data contains SQL', 'SELECT note FROM stats', [readOnly(['stats'])]],
  ['A5 dollar-quoted literal', 'SELECT $$DROP TABLE customers$$ AS doc', [readOnly([])]],
  ['A7 doubled quote', "SELECT 'x'';DROP TABLE customers;--' AS s", [readOnly([])]],
  [
    'A8 leading and trailing comments',
    '/* DROP TABLE customers */ SELECT count(*) FROM customers; -- trailing',
    [readOnly(['customers'], ['count'])],
  ],
  [
    'A10 UPDATE mentioning truncate',
    "UPDATE stats SET note = 'please do not truncate' WHERE drop_count = 3",
    [
      {
        kind: 'UpdateStmt',
        effects: ['write'],
        writes: [{ kind: 'update', table: 'stats', predicate: 'present' }],
        destructive: false,
      },
    ],
  ],
  [
    'A11 DELETE by primary key',
    'DELETE FROM notes WHERE id = 4242',
    [
      {
        effects: ['write'],
        writes: [{ kind: 'delete', table: 'notes', predicate: 'present' }],
        destructive: false,
      },
    ],
  ],
  [
    'A13 number and md5',
    "SELECT 1234567890123456 AS order_no, md5('hello') AS etag",
    [readOnly([], ['md5'])],
  ],
  [
    'A14 filter on drop-like text',
    "SELECT id, name FROM customers WHERE name ILIKE '%drop%' ORDER BY name",
    [readOnly(['customers'])],
  ],
  [
    'A16 read-only transaction',
    'BEGIN; SELECT count(*) FROM notes; ROLLBACK;',
    [
      { kind: 'TransactionStmt', effects: ['transaction'], transaction: 'begin' },
      readOnly(['notes'], ['count']),
      { kind: 'TransactionStmt', effects: ['transaction'], transaction: 'rollback' },
    ],
  ],
  ['A17 parameterized read', 'SELECT id FROM notes WHERE body = $1', [readOnly(['notes'])]],
];

// Corpus sections B–F: what the attack does must be visible in the facts.
const ATTACKS: [string, string, Expected[]][] = [
  // B. Destructive statements
  ['B19 DROP TABLE', 'DROP TABLE customers', [DROP_CUSTOMERS]],
  [
    'B20 TRUNCATE',
    'TRUNCATE stats',
    [
      {
        kind: 'TruncateStmt',
        effects: ['ddl', 'write'],
        destructive: true,
        writes: [{ kind: 'truncate', table: 'stats' }],
      },
    ],
  ],
  [
    'B22 UPDATE without WHERE',
    'UPDATE customers SET email = NULL',
    [{ effects: ['write'], writes: [{ kind: 'update', table: 'customers', predicate: 'none' }] }],
  ],
  [
    'B23 WHERE 1=1',
    'DELETE FROM notes WHERE 1=1',
    [{ effects: ['write'], writes: [{ kind: 'delete', table: 'notes', predicate: 'constant_true' }] }],
  ],
  [
    'B23 WHERE true',
    'DELETE FROM notes WHERE true',
    [{ writes: [{ kind: 'delete', table: 'notes', predicate: 'constant_true' }] }],
  ],
  [
    'B23 WHERE id = id',
    'UPDATE notes SET body = body WHERE id = id',
    [{ writes: [{ kind: 'update', table: 'notes', predicate: 'constant_true' }] }],
  ],
  [
    'B23 ALTER … DROP COLUMN',
    'ALTER TABLE customers DROP COLUMN ssn',
    [
      {
        kind: 'AlterTableStmt',
        effects: ['ddl'],
        destructive: true,
        tables: { read: [], written: ['customers'] },
      },
    ],
  ],
  [
    'B26 DROP SCHEMA CASCADE',
    'DROP SCHEMA public CASCADE',
    [{ kind: 'DropStmt', effects: ['ddl'], destructive: true }],
  ],
  [
    'B28 CREATE INDEX (non-destructive DDL)',
    'CREATE INDEX CONCURRENTLY notes_body_idx ON notes(body)',
    [{ kind: 'IndexStmt', effects: ['ddl'], destructive: false }],
  ],
  ['B29 GRANT', 'GRANT ALL ON customers TO PUBLIC', [{ kind: 'GrantStmt', effects: ['dcl'] }]],
  [
    'B31 COPY TO PROGRAM',
    "COPY (SELECT 1) TO PROGRAM 'id'",
    [{ kind: 'CopyStmt', effects: ['copy'], copy: { direction: 'to', target: 'program' } }],
  ],
  [
    'B31 COPY FROM PROGRAM',
    "COPY stats FROM PROGRAM 'cat /etc/passwd'",
    [
      {
        kind: 'CopyStmt',
        effects: ['copy', 'write'],
        copy: { direction: 'from', target: 'program' },
        writes: [{ kind: 'insert', table: 'stats' }],
      },
    ],
  ],
  [
    'COPY TO STDOUT csv',
    'COPY customers TO STDOUT (FORMAT csv)',
    [{ effects: ['copy', 'read'], copy: { direction: 'to', target: 'stdio', format: 'csv' } }],
  ],
  [
    'COPY FROM file, old binary syntax',
    "COPY stats FROM '/tmp/f' WITH BINARY",
    [{ copy: { direction: 'from', target: 'file', format: 'binary' } }],
  ],

  // C. Lexical and parser-differential bypasses
  ['C32 case and comment', 'dRoP/**/TaBlE customers', [DROP_CUSTOMERS]],
  ['C34 multi-statement', 'SELECT 1; DROP TABLE customers', [readOnly([]), DROP_CUSTOMERS]],
  ['C35 -- inside a literal', "SELECT '--' AS x; DROP TABLE customers", [readOnly([]), DROP_CUSTOMERS]],
  ['C37 dollar-quote trick', "SELECT $a$ ' $a$; DROP TABLE customers; --'", [readOnly([]), DROP_CUSTOMERS]],
  ['C38 U& identifier', 'DROP TABLE U&"\\0063ustomers"', [DROP_CUSTOMERS]],
  ['C38 quoted identifier', 'DROP TABLE "customers"', [DROP_CUSTOMERS]],
  [
    'C38 catalog-qualified',
    'DROP TABLE postgres.public.customers',
    [{ ...DROP_CUSTOMERS, tables: { read: [], written: ['postgres.public.customers'] } }],
  ],
  [
    'C40 GUC persisted on the role',
    'ALTER ROLE agent SET standard_conforming_strings = off',
    [{ kind: 'AlterRoleSetStmt', effects: ['dcl'], settings: ['standard_conforming_strings'] }],
  ],
  [
    'C41 GUC via set_config',
    "SELECT set_config('standard_conforming_strings','off',false)",
    [{ effects: ['read'], functions: ['set_config'], settings: ['standard_conforming_strings'] }],
  ],
  [
    'C43 NBSP is not whitespace',
    'DROP\u00a0TABLE stats',
    [{ kind: 'ParseError', effects: ['unknown'], error: expect.stringContaining('syntax error') }],
  ],
  [
    'C43 fullwidth is not a keyword',
    'ＤＲＯＰ TABLE stats',
    [{ kind: 'ParseError', effects: ['unknown'], error: expect.stringContaining('syntax error') }],
  ],

  // E. Semantic side effects hidden in reads and functions
  [
    'E56 writable CTE',
    'WITH d AS (DELETE FROM stats RETURNING *) SELECT count(*) FROM d',
    [
      {
        kind: 'SelectStmt',
        effects: ['read', 'write'],
        writes: [{ kind: 'delete', table: 'stats', predicate: 'none' }],
        tables: { read: [], written: ['stats'] },
        functions: ['count'],
      },
    ],
  ],
  [
    'E58 SELECT INTO',
    'SELECT * INTO stolen FROM customers',
    [
      {
        kind: 'SelectStmt',
        effects: ['ddl', 'read', 'write'],
        writes: [{ kind: 'select_into', table: 'stolen' }],
        tables: { read: ['customers'], written: ['stolen'] },
      },
    ],
  ],
  [
    'E59 CREATE TEMP TABLE AS',
    'CREATE TEMP TABLE tt AS SELECT card_number AS x FROM customers',
    [
      {
        kind: 'CreateTableAsStmt',
        effects: ['ddl', 'read', 'write'],
        writes: [{ kind: 'create_table_as', table: 'tt' }],
        tables: { read: ['customers'], written: ['tt'] },
      },
    ],
  ],
  ['E61 lo_import', "SELECT lo_import('/etc/passwd')", [readOnly([], ['lo_import'])]],
  ['E61 lo_export', "SELECT lo_export(0,'/tmp/x')", [readOnly([], ['lo_export'])]],
  [
    'E62 dblink_exec',
    "SELECT dblink_exec('dbname=postgres','DROP TABLE customers')",
    [readOnly([], ['dblink_exec'])],
  ],
  [
    'E64 CALL',
    'CALL cleanup_everything()',
    [{ kind: 'CallStmt', effects: ['procedural'], functions: ['cleanup_everything'] }],
  ],
  [
    'E65 SECURITY DEFINER function',
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'TRUNCATE stats'",
    [{ kind: 'CreateFunctionStmt', effects: ['ddl'], functions: [], writes: [] }],
  ],
  [
    'E67 pg_terminate_backend without FROM',
    'SELECT pg_terminate_backend(1234)',
    [readOnly([], ['pg_terminate_backend'])],
  ],
  [
    'E67 pg_terminate_backend FROM pg_stat_activity',
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity',
    [readOnly(['pg_stat_activity'], ['pg_terminate_backend'])],
  ],
  ['E67 pg_reload_conf', 'SELECT pg_reload_conf()', [readOnly([], ['pg_reload_conf'])]],
  ['E67 setval', "SELECT setval('notes_id_seq', 1)", [readOnly([], ['setval'])]],
  ['E68 pg_sleep', 'SELECT pg_sleep(3600)', [readOnly([], ['pg_sleep'])]],
  [
    'E68 generate_series in FROM',
    'SELECT count(*) FROM generate_series(1,1e10)',
    [readOnly([], ['count', 'generate_series'])],
  ],
  [
    'E70 two-phase commit',
    "BEGIN; UPDATE notes SET body='x' WHERE id=1; PREPARE TRANSACTION 'keep'",
    [
      { transaction: 'begin' },
      { effects: ['write'], writes: [{ kind: 'update', table: 'notes', predicate: 'present' }] },
      { kind: 'TransactionStmt', effects: ['transaction'], transaction: 'prepare' },
    ],
  ],
  ['E70 COMMIT PREPARED', "COMMIT PREPARED 'keep'", [{ transaction: 'commit_prepared' }]],
  [
    'E71 INSERT … SELECT sensitive column',
    'INSERT INTO notes(body) SELECT card_number FROM customers',
    [
      {
        kind: 'InsertStmt',
        effects: ['read', 'write'],
        writes: [{ kind: 'insert', table: 'notes' }],
        tables: { read: ['customers'], written: ['notes'] },
      },
    ],
  ],

  // F. Privilege and session manipulation
  ['F73 SET ROLE', 'SET ROLE admin', [{ kind: 'VariableSetStmt', effects: ['session'], settings: ['role'] }]],
  [
    'F73 SET SESSION AUTHORIZATION',
    'SET SESSION AUTHORIZATION admin',
    [{ effects: ['session'], settings: ['session_authorization'] }],
  ],
  ['F73 RESET ROLE', 'RESET ROLE', [{ effects: ['session'], settings: ['role'] }]],
  [
    'F74 set_config role',
    "SELECT set_config('role','admin',false)",
    [{ effects: ['read'], functions: ['set_config'], settings: ['role'] }],
  ],
  [
    'F76 SET statement_timeout',
    'SET statement_timeout = 0',
    [{ effects: ['session'], settings: ['statement_timeout'] }],
  ],
  [
    'F76 set_config statement_timeout',
    "SELECT set_config('statement_timeout','0',false)",
    [{ settings: ['statement_timeout'] }],
  ],
  [
    'F76 DO block',
    'DO $$ BEGIN SET LOCAL statement_timeout = 0; PERFORM pg_sleep(30); END $$',
    [{ kind: 'DoStmt', effects: ['procedural'] }],
  ],
  [
    'F77 ALTER ROLE SET search_path',
    'ALTER ROLE agent SET search_path = attacker',
    [{ kind: 'AlterRoleSetStmt', effects: ['dcl'], settings: ['search_path'] }],
  ],
  [
    'F77 ALTER ROLE SET statement_timeout',
    'ALTER ROLE agent SET statement_timeout = 0',
    [{ settings: ['statement_timeout'] }],
  ],
];

// Statement lifecycle, EXPLAIN and other paths the corpus names in D and SECURITY.md §2.
const LIFECYCLE: [string, string, Expected[]][] = [
  [
    'PREPARE a DELETE',
    'PREPARE p AS DELETE FROM notes',
    [
      {
        kind: 'PrepareStmt',
        effects: ['session', 'write'],
        writes: [{ kind: 'delete', table: 'notes', predicate: 'none' }],
        prepared: {
          action: 'prepare',
          name: 'p',
          inner: { kind: 'DeleteStmt', effects: ['write'], writes: [{ kind: 'delete', table: 'notes' }] },
        },
      },
    ],
  ],
  [
    'EXECUTE is unknown until resolved',
    'EXECUTE p',
    [{ kind: 'ExecuteStmt', effects: ['unknown'], prepared: { action: 'execute', name: 'p' } }],
  ],
  ['EXECUTE parameters are walked', 'EXECUTE p(pg_sleep(10))', [{ functions: ['pg_sleep'] }]],
  [
    'DECLARE a cursor',
    'DECLARE c CURSOR FOR SELECT card_number FROM customers',
    [
      {
        kind: 'DeclareCursorStmt',
        effects: ['read', 'session'],
        tables: { read: ['customers'], written: [] },
        prepared: { action: 'declare', name: 'c', inner: readOnly(['customers']) },
      },
    ],
  ],
  [
    'FETCH',
    'FETCH 10 FROM c',
    [{ kind: 'FetchStmt', effects: ['read'], prepared: { action: 'fetch', name: 'c' } }],
  ],
  ['DEALLOCATE', 'DEALLOCATE p', [{ effects: ['session'], prepared: { action: 'deallocate', name: 'p' } }]],
  [
    'DISCARD ALL resets every setting',
    'DISCARD ALL',
    [{ kind: 'DiscardStmt', effects: ['session'], settings: ['*'], prepared: { action: 'discard' } }],
  ],
  ['RESET ALL', 'RESET ALL', [{ effects: ['session'], settings: ['*'] }]],
  [
    'set_config with a computed name',
    "SELECT set_config(lower('ROLE'), 'admin', false)",
    [{ settings: ['*'], functions: ['lower', 'set_config'] }],
  ],
  [
    'EXPLAIN does not execute',
    'EXPLAIN SELECT * FROM customers',
    [{ kind: 'ExplainStmt', effects: ['read'], writes: [], tables: { read: ['customers'], written: [] } }],
  ],
  [
    'EXPLAIN of a DELETE does not execute',
    'EXPLAIN DELETE FROM notes',
    [{ kind: 'ExplainStmt', effects: ['read'], writes: [] }],
  ],
  [
    'EXPLAIN ANALYZE executes',
    'EXPLAIN ANALYZE DELETE FROM notes',
    [
      {
        kind: 'ExplainStmt',
        effects: ['read', 'write'],
        writes: [{ kind: 'delete', table: 'notes', predicate: 'none' }],
      },
    ],
  ],
  [
    'EXPLAIN/**/ANALYZE',
    'EXPLAIN/**/ANALYZE DELETE FROM notes WHERE id = 1',
    [{ effects: ['read', 'write'] }],
  ],
  [
    'EXPLAIN (ANALYZE false)',
    'EXPLAIN (ANALYZE false) DELETE FROM notes',
    [{ effects: ['read'], writes: [] }],
  ],
  ['EXPLAIN (ANALYZE on)', 'EXPLAIN (ANALYZE on) DELETE FROM notes', [{ effects: ['read', 'write'] }]],
  [
    'EXPLAIN ANALYZE EXECUTE stays unresolved',
    'EXPLAIN ANALYZE EXECUTE p',
    [{ kind: 'ExplainStmt', effects: ['read', 'unknown'], prepared: { action: 'execute', name: 'p' } }],
  ],
  [
    'EXPLAIN ANALYZE CREATE TABLE AS',
    'EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1',
    [{ effects: ['ddl', 'read', 'write'], writes: [{ kind: 'create_table_as', table: 't' }] }],
  ],
  [
    'EXPLAIN CREATE TABLE AS does not execute',
    'EXPLAIN CREATE TABLE t AS SELECT 1',
    [{ effects: ['read'], writes: [] }],
  ],
  [
    'REFRESH MATERIALIZED VIEW',
    'REFRESH MATERIALIZED VIEW mv',
    [{ effects: ['write'], tables: { read: [], written: ['mv'] } }],
  ],
  [
    'MERGE',
    'MERGE INTO notes n USING stats s ON n.id = s.drop_count WHEN MATCHED THEN DELETE',
    [
      {
        kind: 'MergeStmt',
        effects: ['read', 'write'],
        writes: [{ kind: 'merge', table: 'notes' }],
        tables: { read: ['stats'], written: ['notes'] },
      },
    ],
  ],
  [
    'INSERT … ON CONFLICT DO UPDATE',
    'INSERT INTO notes(id, body) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET body = 2',
    [
      {
        writes: [
          { kind: 'insert', table: 'notes' },
          { kind: 'update', table: 'notes' },
        ],
      },
    ],
  ],
  ['function in FROM', "SELECT * FROM pg_read_file('/etc/passwd')", [readOnly([], ['pg_read_file'])]],
  [
    'nested and schema-qualified functions',
    'SELECT lower(pg_catalog.md5(name)) FROM public.customers WHERE id IN (SELECT abs(id) FROM notes)',
    [readOnly(['notes', 'public.customers'], ['abs', 'lower', 'pg_catalog.md5'])],
  ],
  [
    'query_to_xml runs SQL from a string',
    "SELECT query_to_xml('DELETE FROM notes', true, false, '')",
    [readOnly([], ['query_to_xml'])],
  ],
  [
    'a CTE shadows only inside its scope',
    'SELECT (WITH customers AS (SELECT 1) SELECT 1), card_number FROM customers',
    [readOnly(['customers'])],
  ],
  [
    'writable CTE nested in a subquery',
    'SELECT * FROM (WITH d AS (DELETE FROM stats RETURNING 1) SELECT * FROM d) s',
    [{ effects: ['read', 'write'], writes: [{ kind: 'delete', table: 'stats', predicate: 'none' }] }],
  ],
  [
    'COPY of a DML with RETURNING',
    'COPY (DELETE FROM stats RETURNING *) TO STDOUT',
    [{ effects: ['copy', 'write'], writes: [{ kind: 'delete', table: 'stats', predicate: 'none' }] }],
  ],
  ['U& identifier in a read', 'SELECT 1 FROM U&"\\0063ustomers"', [readOnly(['customers'])]],
  [
    'CREATE VIEW reads its query and writes the view',
    'CREATE VIEW v AS SELECT card_number FROM customers',
    [{ kind: 'ViewStmt', effects: ['ddl', 'read'], tables: { read: ['customers'], written: ['v'] } }],
  ],
  [
    'function SET clause is a setting',
    'CREATE FUNCTION f() RETURNS int LANGUAGE sql SET search_path = x AS $$SELECT 1$$',
    [{ kind: 'CreateFunctionStmt', settings: ['search_path'] }],
  ],
  [
    'SET NAMES is client_encoding',
    "SET NAMES 'SJIS'",
    [{ effects: ['session'], settings: ['client_encoding'] }],
  ],
  [
    'ALTER TABLE … ADD COLUMN is not destructive',
    'ALTER TABLE notes ADD COLUMN x int',
    [{ kind: 'AlterTableStmt', effects: ['ddl'], destructive: false }],
  ],
  [
    'ALTER TABLE … DROP CONSTRAINT is destructive',
    'ALTER TABLE notes DROP CONSTRAINT notes_pkey',
    [{ destructive: true }],
  ],
  [
    'DROP ROLE is destructive DCL',
    'DROP ROLE agent',
    [{ kind: 'DropRoleStmt', effects: ['dcl'], destructive: true }],
  ],
  ['ALTER ROLE … RESET ALL', 'ALTER ROLE agent RESET ALL', [{ effects: ['dcl'], settings: ['*'] }]],
  [
    'ALTER SYSTEM',
    'ALTER SYSTEM SET log_statement = none',
    [{ effects: ['admin'], settings: ['log_statement'] }],
  ],
  ['NOTIFY', 'NOTIFY ch', [{ kind: 'NotifyStmt', effects: ['admin'] }]],
  ['LISTEN', 'LISTEN ch', [{ kind: 'ListenStmt', effects: ['session'] }]],
  ['parse error', 'SELEC 1', [{ kind: 'ParseError', effects: ['unknown'], error: expect.any(String) }]],
  [
    'two statements where one fails to parse',
    'SELECT 1; DROP TABLE',
    [{ kind: 'ParseError', effects: ['unknown'] }],
  ],
];

// More spellings of "every row" (SECURITY.md §2, tautological WHERE), and near misses that are real.
const PREDICATES: [string, 'none' | 'constant_true' | 'present'][] = [
  ["DELETE FROM notes WHERE 'a' = 'a'", 'constant_true'],
  ['DELETE FROM notes WHERE NOT false', 'constant_true'],
  ['DELETE FROM notes WHERE 1 < 2', 'constant_true'],
  ['DELETE FROM notes WHERE id = 5 OR true', 'constant_true'],
  ['DELETE FROM notes WHERE true AND 1 = 1', 'constant_true'],
  ["DELETE FROM notes WHERE 't'::boolean", 'constant_true'],
  ['DELETE FROM notes WHERE lower(body) = lower(body)', 'constant_true'],
  ['DELETE FROM notes WHERE 0 = 0', 'constant_true'],
  ['DELETE FROM notes WHERE id = 5 AND true', 'present'],
  ['DELETE FROM notes WHERE 1 = 2', 'present'],
  ['DELETE FROM notes WHERE id = body::int', 'present'],
  ['DELETE FROM notes WHERE id <> id', 'present'],
  ['DELETE FROM notes', 'none'],
  ['UPDATE notes SET body = 1 WHERE CURRENT OF c', 'present'],
  // Constant forms beyond comparisons: each selects every row.
  ['DELETE FROM notes WHERE NULL IS NULL', 'constant_true'],
  ['DELETE FROM notes WHERE 1 IN (1, 2)', 'constant_true'],
  ['DELETE FROM notes WHERE 1 BETWEEN 0 AND 2', 'constant_true'],
  ['DELETE FROM notes WHERE 1 IS DISTINCT FROM 2', 'constant_true'],
  ['DELETE FROM notes WHERE true IS TRUE', 'constant_true'],
  ['DELETE FROM notes WHERE CASE WHEN true THEN true END', 'constant_true'],
  ['DELETE FROM notes WHERE coalesce(NULL, true)', 'constant_true'],
  ['DELETE FROM notes WHERE (SELECT true)', 'constant_true'],
  ['DELETE FROM notes WHERE EXISTS (SELECT 1)', 'constant_true'],
  ['DELETE FROM notes WHERE id IS NOT DISTINCT FROM id', 'constant_true'],
  // … and their data-dependent neighbours are real predicates.
  ['DELETE FROM notes WHERE id IN (1, 2)', 'present'],
  ['DELETE FROM notes WHERE 3 IN (1, 2)', 'present'],
  ['DELETE FROM notes WHERE id BETWEEN 0 AND 2', 'present'],
  ['DELETE FROM notes WHERE body IS NULL', 'present'],
  ['DELETE FROM notes WHERE EXISTS (SELECT 1 FROM stats WHERE drop_count = notes.id)', 'present'],
];

function expectFacts(sql: string, expected: Expected[]): void {
  expect(analyze(sql)).toMatchObject(expected);
}

describe('analyze: corpus A, false positives stay read-only', () => {
  it.each(FALSE_POSITIVES)('%s', (_id, sql, expected) => {
    expectFacts(sql, expected);
    for (const facts of analyze(sql)) {
      expect(facts.effects).not.toContain('ddl');
      expect(facts.destructive).toBe(false);
    }
  });
});

describe('analyze: corpus B–F, attacks are visible in the facts', () => {
  it.each(ATTACKS)('%s', (_id, sql, expected) => expectFacts(sql, expected));

  it('C44 still sees the DROP after a 5 MB comment', () => {
    const facts = analyze(`/* ${'x'.repeat(5_000_000)} */ DROP TABLE customers`);
    expect(facts).toMatchObject([DROP_CUSTOMERS]);
  });
});

describe('analyze: statement lifecycle, EXPLAIN, MERGE, functions', () => {
  it.each(LIFECYCLE)('%s', (_id, sql, expected) => expectFacts(sql, expected));
});

describe('analyze: UPDATE/DELETE predicates', () => {
  it.each(PREDICATES)('%s → %s', (sql, predicate) => {
    expect(analyze(sql)[0]?.writes[0]?.predicate).toBe(predicate);
  });
});

describe('analyze: fail closed', () => {
  it('marks a statement kind the walker does not know as unknown, naming it', () => {
    const facts = statementFacts({ FutureStmt: {} } as unknown as Node);
    expect(facts).toMatchObject({ kind: 'FutureStmt', effects: ['unknown'], unknownNodes: ['FutureStmt'] });
  });

  it.each(['', '  \n', '-- only a comment', '/* DROP TABLE customers */', ';'])(
    'finds no statement in %j (the server sends EmptyQueryResponse)',
    (sql) => {
      expect(analyze(sql)).toEqual([]);
    },
  );

  it('does not treat NBSP alone as whitespace', () => {
    expect(analyze('\u00a0')).toMatchObject([{ kind: 'ParseError', effects: ['unknown'] }]);
  });

  it('never throws, even on absurd nesting', () => {
    const deep = `SELECT ${'('.repeat(5000)}1${')'.repeat(5000)}`;
    const facts = analyze(deep);
    expect(facts.length).toBe(1);
    expect(facts[0]?.effects).toBeDefined();
  });
});

// Property: lexical disguises never change what a blocked statement does (SECURITY.md §2, R1).
// Statements are written with one space between tokens so they can be split and re-joined.
const BLOCKED = [
  'DROP TABLE customers',
  'TRUNCATE stats',
  'DELETE FROM notes WHERE 1 = 1',
  'UPDATE customers SET email = NULL',
  "COPY stats FROM PROGRAM '/bin/id'",
  'SET ROLE admin',
  'GRANT ALL ON customers TO PUBLIC',
  'WITH d AS ( DELETE FROM stats RETURNING * ) SELECT count ( * ) FROM d',
  "SELECT set_config ( 'role' , 'admin' , false )",
  'EXPLAIN ANALYZE DELETE FROM notes',
  'ALTER TABLE customers DROP COLUMN ssn',
];
const IDENTIFIERS = new Set(['customers', 'stats', 'notes', 'email', 'ssn']);
const SEPARATORS = [
  ' ',
  '  ',
  '\n',
  '\t',
  ' /**/ ',
  '/* x */',
  ' -- note\n',
  '/* /* nested */ DROP */',
  '\r\n',
];

function flipCase(word: string, flips: boolean[]): string {
  return [...word]
    .map((ch, i) => (flips[i % flips.length] === true ? ch.toUpperCase() : ch.toLowerCase()))
    .join('');
}

function disguise(token: string, flips: boolean[], quoting: number): string {
  if (IDENTIFIERS.has(token)) {
    // Quoted identifiers are case-sensitive, so only the unquoted form may change case.
    if (quoting === 1) return `"${token}"`;
    if (quoting === 2) return `U&"\\${token.charCodeAt(0).toString(16).padStart(4, '0')}${token.slice(1)}"`;
    return flipCase(token, flips);
  }
  return /^[A-Za-z_]+$/.test(token) ? flipCase(token, flips) : token;
}

const mutation = fc.record({
  index: fc.nat(BLOCKED.length - 1),
  flips: fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }),
  quoting: fc.nat(2),
  separators: fc.array(fc.constantFrom(...SEPARATORS), { minLength: 1, maxLength: 30 }),
});

describe('analyze: property', () => {
  it('case flips, comments, whitespace and identifier quoting never change the facts', () => {
    const baseline = new Map<string, StatementFacts[]>(BLOCKED.map((sql) => [sql, analyze(sql)]));
    fc.assert(
      fc.property(mutation, ({ index, flips, quoting, separators }) => {
        const sql = BLOCKED[index] ?? '';
        const tokens = sql.split(' ');
        const text = tokens
          .map(
            (t, i) =>
              (i === 0 ? '' : (separators[i % separators.length] ?? ' ')) + disguise(t, flips, quoting),
          )
          .join('');
        const facts = analyze(text);
        expect(facts.map((f) => f.effects)).toEqual(baseline.get(sql)?.map((f) => f.effects));
        expect(facts).toEqual(baseline.get(sql));
      }),
      { numRuns: 500 },
    );
  });
});
