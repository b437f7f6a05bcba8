/**
 * Where the gate holds a statement that needs review: Query and EXECUTE at once, Parse never
 * (its Execute is held instead, with the Bind parameters), PREPARE never (each EXECUTE is), and
 * without a reviewer, review refuses (fail closed).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ClientFacingError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { PolicyStatementGate, type Reviewer, type ReviewRequest } from '../../src/gateway/statement-gate.ts';
import { defaultGuardrails } from '../../src/policy/guardrails.ts';
import { compilePolicy } from '../../src/policy/statement-policy.ts';
import type { FinalVerdict, GateVerdict } from '../../src/protocols/postgres/ports.ts';
import { analyze, initSqlParser } from '../../src/sql/postgres/index.ts';

const principal = {
  id: 'key:agent',
  kind: 'service' as const,
  name: 'agent',
  groups: ['agents'],
  claims: {},
  expiresAt: undefined,
};

const policy = compilePolicy({
  name: 'agents',
  default: 'allow',
  rules: [{ name: 'deletes', action: 'review', kinds: ['DeleteStmt'], reason: 'deletes are reviewed' }],
  guardrails: defaultGuardrails(),
});

/** A gate whose reviewer records each request and answers with `approve`. */
function gateWith(approve: boolean | undefined) {
  const requests: ReviewRequest[] = [];
  const reviewer: Reviewer = (request) => {
    requests.push(request);
    return {
      notice: { message: 'held' },
      outcome: Promise.resolve(
        approve ? undefined : new ClientFacingError('42501', 'sluice: denied by alice'),
      ),
      approvalId: () => 'apv_test',
      withdraw: () => {},
    };
  };
  const gate = new PolicyStatementGate({
    principal,
    connection: 'app',
    policies: [policy],
    analyze,
    limits: undefined,
    masker: undefined,
    logger: silentLogger,
    refused: () => {},
    ...(approve === undefined ? {} : { reviewer }),
  });
  return { gate, requests };
}

function isHeld(verdict: GateVerdict): verdict is Extract<GateVerdict, { allowed: 'held' }> {
  return verdict.allowed === 'held';
}

async function outcome(verdict: GateVerdict): Promise<FinalVerdict> {
  if (!isHeld(verdict)) throw new Error(`expected a hold, got ${JSON.stringify(verdict)}`);
  return verdict.hold.outcome;
}

beforeAll(async () => {
  await initSqlParser();
});

describe('review holds', () => {
  it('holds a Query that needs review and lets others through', async () => {
    const { gate, requests } = gateWith(true);
    expect(gate.query('SELECT 1')).toEqual({ allowed: true });
    const held = gate.query('DELETE FROM notes WHERE id > 0');
    expect(await outcome(held)).toEqual({ allowed: true });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      sql: 'DELETE FROM notes WHERE id > 0',
      parameters: [],
      estimateRows: true,
      verdict: { action: 'review', policy: 'agents', rule: 'rule deletes' },
    });
  });

  it('allows Parse and holds each Execute with its Bind parameters; a rebound portal asks again', async () => {
    const { gate, requests } = gateWith(true);
    expect(gate.parse('del', 'DELETE FROM notes WHERE id = $1')).toEqual({ allowed: true });
    gate.bind('', 'del', [Buffer.from('4990')], []);
    const first = gate.execute('');
    expect(await outcome(first)).toEqual({ allowed: true });
    // More rows from the same approved portal: no new request.
    expect(gate.execute('')).toEqual({ allowed: true });
    gate.bind('', 'del', [Buffer.from('0')], [0]);
    expect(isHeld(gate.execute(''))).toBe(true);
    expect(requests.map((r) => r.parameters.map((p) => p.value?.toString()))).toEqual([['4990'], ['0']]);
    expect(requests[0]?.sql).toBe('DELETE FROM notes WHERE id = $1');
  });

  it('copies Bind parameters: the frame buffer may be reused after Bind', () => {
    const { gate, requests } = gateWith(true);
    gate.parse('', 'DELETE FROM notes WHERE id = $1');
    const frame = Buffer.from('4990');
    gate.bind('', '', [frame], [0]);
    frame.write('0000');
    gate.execute('');
    expect(requests[0]?.parameters[0]?.value?.toString()).toBe('4990');
  });

  it('a portal of a statement that needs no review is not held, even after a held one', () => {
    const { gate } = gateWith(true);
    gate.parse('del', 'DELETE FROM notes WHERE id = $1');
    gate.parse('sel', 'SELECT * FROM notes WHERE id = $1');
    gate.bind('p', 'del', [Buffer.from('1')], []);
    gate.bind('p', 'sel', [Buffer.from('1')], []);
    expect(gate.execute('p')).toEqual({ allowed: true });
  });

  it('allows PREPARE and holds each EXECUTE, showing the approver what was prepared', async () => {
    const { gate, requests } = gateWith(true);
    expect(gate.query('PREPARE d(int) AS DELETE FROM notes WHERE id > $1')).toEqual({ allowed: true });
    expect(await outcome(gate.query('EXECUTE d(4990)'))).toEqual({ allowed: true });
    expect(isHeld(gate.query('EXECUTE d(0)'))).toBe(true);
    expect(requests.map((r) => r.sql)).toEqual([
      'PREPARE d(int) AS DELETE FROM notes WHERE id > $1;\nEXECUTE d(4990)',
      'PREPARE d(int) AS DELETE FROM notes WHERE id > $1;\nEXECUTE d(0)',
    ]);
  });

  it('an extended Execute of a SQL-PREPAREd statement that needs review is held', () => {
    const { gate } = gateWith(true);
    gate.query('PREPARE d(int) AS DELETE FROM notes WHERE id > $1');
    gate.bind('', 'd', [Buffer.from('1')], []);
    expect(isHeld(gate.execute(''))).toBe(true);
  });

  it('approving a message that also PREPAREs does not approve later EXECUTEs', async () => {
    const { gate } = gateWith(true);
    const held = gate.query('PREPARE d AS DELETE FROM notes WHERE id > 1; DELETE FROM notes WHERE id = 2');
    expect(await outcome(held)).toEqual({ allowed: true });
    expect(isHeld(gate.query('EXECUTE d'))).toBe(true);
  });

  it('a refusal from the reviewer refuses the statement', async () => {
    const { gate } = gateWith(false);
    const refusal = await outcome(gate.query('DELETE FROM notes WHERE id > 0'));
    expect(refusal).toMatchObject({
      allowed: false,
      error: { sqlstate: '42501', message: 'sluice: denied by alice' },
    });
  });

  it('without a reviewer, review refuses (42501 approval required) at Query and at Execute', () => {
    const { gate } = gateWith(undefined);
    const refused = gate.query('DELETE FROM notes WHERE id > 0');
    expect(refused).toMatchObject({ allowed: false, error: { sqlstate: '42501' } });
    expect(refused.allowed === false && refused.error.message).toMatch(/approval required/);
    gate.parse('', 'DELETE FROM notes WHERE id = $1');
    gate.bind('', '', [Buffer.from('1')], []);
    expect(gate.execute('')).toMatchObject({ allowed: false, error: { sqlstate: '42501' } });
  });

  it('deny still wins over review: a DROP next to a DELETE is refused, not held', () => {
    const { gate, requests } = gateWith(true);
    const verdict = gate.query('DELETE FROM notes WHERE id > 0; DROP TABLE notes');
    expect(verdict).toMatchObject({ allowed: false, error: { sqlstate: '42501' } });
    expect(requests).toEqual([]);
  });

  it('row estimates are asked only for a single UPDATE or DELETE that calls no function', () => {
    const { gate, requests } = gateWith(true);
    gate.query('DELETE FROM notes WHERE id > 0');
    gate.query('DELETE FROM notes WHERE id > length(body)');
    expect(requests.map((r) => r.estimateRows)).toEqual([true, false]);
  });

  it('kinds rules see through EXECUTE and FETCH: they are judged as the statement they run', () => {
    const denyDeletes = compilePolicy({
      name: 'no-deletes',
      default: 'allow',
      rules: [{ name: 'deletes', action: 'deny', kinds: ['DeleteStmt'] }],
      guardrails: defaultGuardrails(),
    });
    const gate = new PolicyStatementGate({
      principal,
      connection: 'app',
      policies: [denyDeletes],
      analyze,
      limits: undefined,
      masker: undefined,
      logger: silentLogger,
      refused: () => {},
    });
    // PREPARE runs nothing; the EXECUTE is the DELETE.
    expect(gate.query('PREPARE d AS DELETE FROM notes WHERE id = 1')).toEqual({ allowed: true });
    expect(gate.query('EXECUTE d')).toMatchObject({ allowed: false, error: { sqlstate: '42501' } });
  });
});
