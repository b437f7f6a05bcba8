/**
 * The statement evaluator on real analyzer output: guardrails, rule semantics, defaults and the
 * "most restrictive wins" combination. Every case goes through `analyze()`, so a change in the
 * facts that would silently weaken a decision shows up here.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultGuardrails, GUARDRAIL_NAMES, type GuardrailName } from '../../src/policy/guardrails.ts';
import {
  compilePolicy,
  type GuardrailSpec,
  judgeFunctionCall,
  judgeStatements,
  type PolicyAction,
  type StatementPolicySpec,
  type StatementRuleSpec,
  type Verdict,
} from '../../src/policy/statement-policy.ts';
import { analyze, initSqlParser } from '../../src/sql/postgres/index.ts';

beforeAll(() => initSqlParser());

interface SpecInput {
  name?: string;
  default?: PolicyAction;
  rules?: StatementRuleSpec[];
  guardrails?: Partial<Record<GuardrailName, GuardrailSpec | PolicyAction>>;
  allowedFunctions?: string[];
}

function spec(input: SpecInput = {}): StatementPolicySpec {
  const guardrails = defaultGuardrails();
  for (const [name, g] of Object.entries(input.guardrails ?? {}) as [
    GuardrailName,
    GuardrailSpec | PolicyAction,
  ][]) {
    guardrails[name] = typeof g === 'string' ? { action: g, except: [] } : g;
  }
  return {
    name: input.name ?? 'p',
    default: input.default ?? 'allow',
    rules: input.rules ?? [],
    guardrails,
    ...(input.allowedFunctions === undefined ? {} : { allowedFunctions: input.allowedFunctions }),
  };
}

function allRelaxed(action: PolicyAction = 'allow'): Record<GuardrailName, PolicyAction> {
  return Object.fromEntries(GUARDRAIL_NAMES.map((name) => [name, action])) as Record<
    GuardrailName,
    PolicyAction
  >;
}

function judge(sql: string, ...inputs: SpecInput[]): Verdict {
  const specs = inputs.length === 0 ? [spec()] : inputs.map(spec);
  return judgeStatements(specs.map(compilePolicy), analyze(sql));
}

const action = (sql: string, ...inputs: SpecInput[]) => judge(sql, ...inputs).action;

describe('guardrails', () => {
  // [guardrail, statement it must catch, statement of the same shape it must not catch]
  const cases: [GuardrailName, string, string][] = [
    ['destructiveDdl', 'DROP TABLE customers', 'CREATE TABLE t (id int)'],
    ['destructiveDdl', 'TRUNCATE stats', 'SELECT * FROM stats'],
    ['destructiveDdl', 'ALTER TABLE customers DROP COLUMN email', 'ALTER TABLE customers ADD COLUMN x int'],
    ['unboundedWrites', 'DELETE FROM notes', 'DELETE FROM notes WHERE id = 1'],
    ['unboundedWrites', 'DELETE FROM notes WHERE 1=1', 'DELETE FROM notes WHERE id = 1'],
    ['unboundedWrites', 'UPDATE notes SET body = body', 'UPDATE notes SET body = body WHERE id = 3'],
    [
      'unboundedWrites',
      "UPDATE notes SET body = '' WHERE true OR id = 1",
      'UPDATE notes SET body = body WHERE id = 3',
    ],
    [
      'unboundedWrites',
      'WITH d AS (DELETE FROM stats RETURNING *) SELECT 1',
      'WITH d AS (SELECT 1) SELECT 1',
    ],
    [
      'unboundedWrites',
      'EXPLAIN ANALYZE DELETE FROM stats',
      'EXPLAIN ANALYZE DELETE FROM stats WHERE id = 1',
    ],
    ['serverCopy', "COPY stats FROM PROGRAM 'x'", 'COPY stats FROM STDIN'],
    ['serverCopy', "COPY stats TO '/tmp/x'", 'COPY stats TO STDOUT'],
    ['sideEffectFunctions', "SELECT pg_read_file('/etc/passwd')", "SELECT lower('x')"],
    ['sideEffectFunctions', "SELECT * FROM pg_read_file('x')", 'SELECT * FROM generate_series(1, 3)'],
    ['sideEffectFunctions', "SELECT pg_catalog.pg_read_file('x')", 'SELECT pg_catalog.lower(name) FROM t'],
    [
      'sideEffectFunctions',
      "SELECT set_config('work_mem', '1MB', false)",
      "SELECT current_setting('work_mem')",
    ],
    ['sideEffectFunctions', 'SELECT pg_sleep(10)', 'SELECT now()'],
    ['sideEffectFunctions', "SELECT dblink_exec('x', 'y')", 'SELECT 1'],
    ['protectedSettings', 'SET ROLE admin', 'SET work_mem = 1024'],
    ['protectedSettings', 'SET search_path = evil', "SET application_name = 'x'"],
    ['protectedSettings', 'SET statement_timeout = 0', 'SET work_mem = 1024'],
    ['protectedSettings', 'RESET ALL', 'RESET work_mem'],
    ['protectedSettings', 'SET standard_conforming_strings = off', 'SET work_mem = 1024'],
    ['twoPhaseCommit', "PREPARE TRANSACTION 'x'", 'COMMIT'],
    ['twoPhaseCommit', "COMMIT PREPARED 'x'", 'BEGIN'],
    ['listenNotify', 'LISTEN ch', 'SELECT 1'],
    ['listenNotify', 'NOTIFY ch', 'SELECT 1'],
    ['doBlocks', 'DO $$BEGIN END$$', 'SELECT 1'],
    ['procedureCalls', 'CALL do_things()', 'SELECT do_things()'],
    [
      'routineDefinitions',
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$SELECT 1$$',
      'CREATE TABLE f (id int)',
    ],
    [
      'routineDefinitions',
      'CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION f()',
      'SELECT 1',
    ],
    ['derivedTables', 'CREATE VIEW v AS SELECT * FROM customers', 'SELECT * FROM customers'],
    ['derivedTables', 'CREATE TABLE c2 AS SELECT * FROM customers', 'CREATE TABLE c2 (id int)'],
    ['derivedTables', 'SELECT * INTO c2 FROM customers', 'SELECT * FROM customers'],
    ['privileges', 'GRANT ALL ON customers TO PUBLIC', 'SELECT 1'],
    ['privileges', 'CREATE ROLE r', 'SELECT 1'],
    ['serverAdministration', "ALTER SYSTEM SET work_mem = '1MB'", 'SELECT 1'],
    ['serverAdministration', 'CHECKPOINT', 'SELECT 1'],
    ['valueCatalogs', 'SELECT most_common_vals FROM pg_stats', 'SELECT relname FROM pg_class'],
    ['valueCatalogs', 'SELECT query FROM pg_catalog.pg_stat_activity', 'SELECT count(*) FROM pg_locks'],
    ['valueCatalogs', 'SELECT statement FROM pg_prepared_statements', 'SELECT name FROM pg_settings'],
  ];

  describe.each(cases)('%s: %s', (guardrail, caught, passes) => {
    it('is denied by default, naming the guardrail', () => {
      const verdict = judge(caught);
      expect(verdict).toMatchObject({ action: 'deny', policy: 'p', rule: `guardrail ${guardrail}` });
      expect(verdict.reason).not.toBe('');
    });

    it('gives review when relaxed to review', () => {
      // Other guardrails relaxed to allow, so this one alone decides.
      const guardrails = { ...allRelaxed(), [guardrail]: 'review' as const };
      expect(judge(caught, { guardrails })).toMatchObject({
        action: 'review',
        rule: `guardrail ${guardrail}`,
      });
    });

    it('gives the default when relaxed to allow', () => {
      expect(action(caught, { guardrails: { ...allRelaxed(), [guardrail]: 'deny' }, default: 'allow' })).toBe(
        'deny',
      );
      expect(action(caught, { guardrails: allRelaxed(), default: 'allow' })).toBe('allow');
      expect(action(caught, { guardrails: allRelaxed(), default: 'review' })).toBe('review');
    });

    it('does not catch a statement of the same shape without the danger', () => {
      expect(judge(passes)).toMatchObject({ action: 'allow', rule: 'default' });
    });
  });

  it('relaxing one guardrail leaves the others on', () => {
    expect(judge('DROP TABLE customers', { guardrails: { doBlocks: 'allow' } }).rule).toBe(
      'guardrail destructiveDdl',
    );
    expect(action('TRUNCATE stats', { guardrails: { destructiveDdl: 'allow' } })).toBe('allow');
    // TRUNCATE is destructive, but not an UPDATE/DELETE without WHERE.
    expect(action('DELETE FROM notes', { guardrails: { destructiveDdl: 'allow' } })).toBe('deny');
  });

  describe('except lists', () => {
    it('sideEffectFunctions: exempts the listed function only', () => {
      const guardrails = { sideEffectFunctions: { action: 'deny' as const, except: ['set_config'] } };
      expect(action("SELECT set_config('work_mem', '1MB', false)", { guardrails })).toBe('allow');
      expect(action("SELECT pg_catalog.set_config('work_mem', '1MB', false)", { guardrails })).toBe('allow');
      expect(judge("SELECT set_config('work_mem', '1MB', false), pg_sleep(1)", { guardrails }).rule).toBe(
        'guardrail sideEffectFunctions',
      );
      // Permissive: an exception for `set_config` never covers a look-alike in another schema.
      expect(action("SELECT evil.set_config('a', 'b', false)", { guardrails })).toBe('deny');
    });

    it('sideEffectFunctions: an exemption does not lift protectedSettings', () => {
      const guardrails = { sideEffectFunctions: { action: 'deny' as const, except: ['set_config'] } };
      expect(judge("SELECT set_config('role', 'admin', false)", { guardrails }).rule).toBe(
        'guardrail protectedSettings',
      );
    });

    it('procedureCalls: exempts listed procedures; every called one must be listed', () => {
      const guardrails = { procedureCalls: { action: 'deny' as const, except: ['refresh_stats'] } };
      expect(action('CALL refresh_stats()', { guardrails })).toBe('allow');
      expect(judge('CALL drop_everything()', { guardrails }).rule).toBe('guardrail procedureCalls');
      expect(action('CALL refresh_stats(pg_sleep(1))', { guardrails })).toBe('deny');
    });

    it('protectedSettings: exempts listed settings only', () => {
      const guardrails = {
        protectedSettings: { action: 'deny' as const, except: ['search_path', 'statement_timeout'] },
      };
      expect(action('SET search_path = public', { guardrails })).toBe('allow');
      expect(action('SET statement_timeout = 0', { guardrails })).toBe('allow');
      expect(judge('SET lock_timeout = 0', { guardrails }).rule).toBe('guardrail protectedSettings');
      expect(judge('SET ROLE admin', { guardrails }).rule).toBe('guardrail protectedSettings');
      expect(judge('RESET ALL', { guardrails }).rule).toBe('guardrail protectedSettings');
    });
  });
});

describe('rules', () => {
  it('deny rules match when ANY listed table is touched', () => {
    const rules: StatementRuleSpec[] = [{ name: 'no-secrets', action: 'deny', tables: ['secrets'] }];
    expect(judge('SELECT * FROM orders JOIN secrets USING (id)', { rules })).toMatchObject({
      action: 'deny',
      rule: 'rule no-secrets',
    });
    expect(action('SELECT * FROM orders', { rules })).toBe('allow');
  });

  it('review rules match on ANY listed function or effect', () => {
    expect(
      judge('SELECT md5(x) FROM t', { rules: [{ name: 'hash', action: 'review', functions: ['md5'] }] }),
    ).toMatchObject({ action: 'review', rule: 'rule hash' });
    const ddl: StatementRuleSpec[] = [{ name: 'ddl', action: 'review', effects: ['ddl'] }];
    expect(judge('CREATE TABLE t (id int)', { rules: ddl })).toMatchObject({
      action: 'review',
      rule: 'rule ddl',
    });
    expect(action('SELECT 1', { rules: ddl })).toBe('allow');
  });

  it('deny rules on functions match whatever the schema', () => {
    const rules: StatementRuleSpec[] = [{ action: 'deny', functions: ['md5'] }];
    expect(judge('SELECT anything.md5(x) FROM t', { rules })).toMatchObject({
      action: 'deny',
      rule: 'rule #1',
    });
  });

  it('allow rules match only when EVERYTHING touched is listed', () => {
    const rules: StatementRuleSpec[] = [
      { name: 'reads', action: 'allow', effects: ['read'], tables: ['public.*'] },
    ];
    const p = { rules, default: 'deny' as const };
    expect(judge('SELECT * FROM customers JOIN orders USING (id)', p)).toMatchObject({
      action: 'allow',
      rule: 'rule reads',
    });
    // A write is not a read, even of a listed table.
    expect(judge("INSERT INTO customers VALUES (1, 'x')", p)).toMatchObject({
      action: 'deny',
      rule: 'default',
    });
    // One table outside the list spoils the whole statement.
    expect(judge('SELECT * FROM customers JOIN hr.salaries USING (id)', p)).toMatchObject({
      action: 'deny',
      rule: 'default',
    });
    // A data-modifying CTE carries the write effect too.
    expect(action('WITH x AS (DELETE FROM customers WHERE id = 1 RETURNING *) SELECT * FROM x', p)).toBe(
      'deny',
    );
  });

  it('allow rules on functions need every function listed, and qualified names listed as such', () => {
    const rules: StatementRuleSpec[] = [{ action: 'allow', functions: ['lower', 'count'] }];
    const p = { rules, default: 'deny' as const };
    expect(action('SELECT lower(name), count(*) FROM t GROUP BY 1', p)).toBe('allow');
    expect(action('SELECT pg_catalog.lower(name) FROM t', p)).toBe('allow');
    expect(action('SELECT lower(name), upper(name) FROM t', p)).toBe('deny');
    expect(action('SELECT evil.lower(name) FROM t', p)).toBe('deny');
  });

  it('kinds restrict a rule to statement node names', () => {
    const rules: StatementRuleSpec[] = [{ name: 'indexes', action: 'allow', kinds: ['IndexStmt'] }];
    const p = { rules, default: 'review' as const };
    expect(judge('CREATE INDEX i ON t (x)', p)).toMatchObject({ action: 'allow', rule: 'rule indexes' });
    expect(judge('CREATE TABLE t (x int)', p)).toMatchObject({ action: 'review', rule: 'default' });
  });

  describe('table patterns', () => {
    const deny = (pattern: string, sql: string) =>
      action(sql, { rules: [{ action: 'deny', tables: [pattern] }] });
    const allow = (pattern: string, sql: string) =>
      action(sql, { rules: [{ action: 'allow', tables: [pattern] }], default: 'deny' });

    it('a bare name matches the table in any schema', () => {
      expect(deny('customers', 'SELECT * FROM customers')).toBe('deny');
      expect(deny('customers', 'SELECT * FROM crm.customers')).toBe('deny');
      expect(deny('customers', 'SELECT * FROM "customers"')).toBe('deny');
      expect(deny('customers', 'SELECT * FROM customers_archive')).toBe('allow');
    });

    it('schema.* matches every table of the schema, and unqualified names resolve to public', () => {
      expect(allow('public.*', 'SELECT * FROM customers')).toBe('allow');
      expect(allow('public.*', 'SELECT * FROM public.customers')).toBe('allow');
      expect(allow('public.*', 'SELECT * FROM crm.customers')).toBe('deny');
      expect(allow('public.*', 'SELECT * FROM mydb.public.customers')).toBe('allow');
    });

    it('unqualified pg_* names resolve to pg_catalog, not public', () => {
      expect(allow('public.*', 'SELECT * FROM pg_authid')).toBe('deny');
      expect(allow('pg_catalog.*', 'SELECT * FROM pg_class')).toBe('allow');
      expect(deny('pg_catalog.pg_authid', 'SELECT * FROM pg_authid')).toBe('deny');
    });

    it('*.name matches the table in every schema', () => {
      expect(deny('*.secrets', 'SELECT * FROM vault.secrets')).toBe('deny');
      expect(deny('*.secrets', 'SELECT * FROM secrets')).toBe('deny');
      expect(deny('*.secrets', 'SELECT * FROM secrets_log')).toBe('allow');
    });

    it('written tables count as touched', () => {
      expect(deny('audit_log', 'DELETE FROM audit_log WHERE id = 1')).toBe('deny');
      expect(allow('public.*', 'INSERT INTO crm.x SELECT * FROM customers')).toBe('deny');
    });
  });

  it('a statement no rule matches gets the default', () => {
    const rules: StatementRuleSpec[] = [{ action: 'deny', tables: ['secrets'] }];
    for (const d of ['allow', 'review', 'deny'] as const) {
      expect(judge('SELECT * FROM orders', { rules, default: d })).toMatchObject({
        action: d,
        rule: 'default',
      });
    }
    // A matching allow rule replaces the default, even a strict one.
    expect(
      action('SELECT * FROM orders', { rules: [{ action: 'allow', tables: ['orders'] }], default: 'deny' }),
    ).toBe('allow');
  });
});

describe('most restrictive wins', () => {
  it('across rules of one policy, whatever their order', () => {
    const allowFirst: StatementRuleSpec[] = [
      { name: 'ok', action: 'allow', tables: ['orders'] },
      { name: 'careful', action: 'review', tables: ['orders'] },
    ];
    expect(judge('SELECT * FROM orders', { rules: allowFirst })).toMatchObject({
      action: 'review',
      rule: 'rule careful',
    });
    expect(judge('SELECT * FROM orders', { rules: [...allowFirst].reverse() }).action).toBe('review');
    const withDeny = [...allowFirst, { name: 'never', action: 'deny' as const, tables: ['orders'] }];
    expect(judge('SELECT * FROM orders', { rules: withDeny }).rule).toBe('rule never');
  });

  it('an allow rule cannot override a guardrail', () => {
    const rules: StatementRuleSpec[] = [{ action: 'allow', tables: ['customers'] }];
    expect(judge('DROP TABLE customers', { rules })).toMatchObject({
      action: 'deny',
      rule: 'guardrail destructiveDdl',
    });
  });

  it('across the statements of one message', () => {
    expect(judge('SELECT 1; DROP TABLE customers').rule).toBe('guardrail destructiveDdl');
    expect(
      judge('SELECT 1; SELECT 2; CREATE TABLE t (x int)', { rules: [{ action: 'review', effects: ['ddl'] }] })
        .action,
    ).toBe('review');
    expect(action('SELECT 1; SELECT 2')).toBe('allow');
  });

  it('across every policy that applies', () => {
    const lenient = { name: 'lenient', guardrails: allRelaxed() };
    const strict = { name: 'strict', rules: [{ action: 'review' as const, effects: ['write' as const] }] };
    expect(judge('DELETE FROM notes WHERE id = 1', lenient, strict)).toMatchObject({
      action: 'review',
      policy: 'strict',
    });
    expect(judge('DELETE FROM notes WHERE id = 1', strict, lenient)).toMatchObject({
      action: 'review',
      policy: 'strict',
    });
    expect(judge('DROP TABLE t', lenient, strict)).toMatchObject({ action: 'deny', policy: 'strict' });
  });

  it('names the rule that allowed a statement', () => {
    const rules: StatementRuleSpec[] = [{ name: 'reads', action: 'allow', effects: ['read'] }];
    expect(judge('SELECT 1', { rules, default: 'deny' })).toMatchObject({
      action: 'allow',
      rule: 'rule reads',
    });
  });
});

describe('unknown is always denied', () => {
  const wideOpen: SpecInput = {
    default: 'allow',
    guardrails: allRelaxed(),
    rules: [
      {
        action: 'allow',
        effects: ['read', 'write', 'ddl', 'dcl', 'admin', 'session', 'transaction', 'copy', 'procedural'],
      },
    ],
  };

  it.each(['SELECT 1 +', 'SELEKT 1', 'SELECT\u00a01', 'EXECUTE p(1)'])('%s', (sql) => {
    expect(judge(sql, wideOpen)).toMatchObject({ action: 'deny', rule: 'unanalyzable' });
  });

  it('reports the parser message for text that does not parse', () => {
    expect(judge('SELECT 1 +', wideOpen).reason).toMatch(/could not be parsed: syntax error/);
  });

  it('one unknown statement spoils the whole message', () => {
    expect(judge('SELECT 1; SELEKT 2', wideOpen).action).toBe('deny');
  });

  it('an empty query is allowed (the server only answers EmptyQueryResponse)', () => {
    expect(judge(' ; -- nothing', { default: 'deny' })).toMatchObject({ action: 'allow', rule: 'empty' });
  });

  it('no policy means deny', () => {
    expect(judgeStatements([], analyze('SELECT 1'))).toMatchObject({ action: 'deny', rule: 'no policy' });
  });
});

describe('allowedFunctions', () => {
  it('every function must be on the list', () => {
    const p = { allowedFunctions: ['count', 'lower'] };
    expect(action('SELECT count(*), lower(name) FROM t', p)).toBe('allow');
    expect(judge('SELECT upper(name) FROM t', p)).toMatchObject({ action: 'deny', rule: 'allowedFunctions' });
    expect(judge('SELECT upper(name) FROM t', p).reason).toMatch(/upper/);
    expect(action('SELECT 1', p)).toBe('allow');
  });

  it('accepts pg_catalog-qualified names, never another schema', () => {
    const p = { allowedFunctions: ['lower'] };
    expect(action('SELECT pg_catalog.lower(name) FROM t', p)).toBe('allow');
    expect(action('SELECT attacker.lower(name) FROM t', p)).toBe('deny');
  });

  it('supports globs, and catches functions in FROM and in subqueries', () => {
    const p = { allowedFunctions: ['json_*'] };
    expect(action("SELECT json_build_object('a', 1)", p)).toBe('allow');
    expect(action('SELECT * FROM generate_series(1, 3)', p)).toBe('deny');
    expect(action('SELECT (SELECT md5(x) FROM t)', p)).toBe('deny');
  });

  it('denies even when a rule would allow', () => {
    const p = { allowedFunctions: ['count'], rules: [{ action: 'allow' as const, functions: ['upper'] }] };
    expect(action('SELECT upper(x) FROM t', p)).toBe('deny');
  });
});

describe('FunctionCall', () => {
  it('is denied by default and follows the functionCall guardrail', () => {
    expect(judgeFunctionCall([compilePolicy(spec())])).toMatchObject({
      action: 'deny',
      rule: 'guardrail functionCall',
    });
    expect(judgeFunctionCall([compilePolicy(spec({ guardrails: { functionCall: 'review' } }))]).action).toBe(
      'review',
    );
    expect(judgeFunctionCall([compilePolicy(spec({ guardrails: { functionCall: 'allow' } }))]).action).toBe(
      'allow',
    );
  });

  it('the strictest policy wins, and no policy means deny', () => {
    const open = compilePolicy(spec({ name: 'open', guardrails: { functionCall: 'allow' } }));
    const closed = compilePolicy(spec({ name: 'closed' }));
    expect(judgeFunctionCall([open, closed])).toMatchObject({ action: 'deny', policy: 'closed' });
    expect(judgeFunctionCall([])).toMatchObject({ action: 'deny', rule: 'no policy' });
  });

  it('does not affect SQL statements', () => {
    expect(action('SELECT 1', { guardrails: { functionCall: 'deny' } })).toBe('allow');
  });
});
