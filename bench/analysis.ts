/**
 * The statement gate's own cost, measured in-process: analysis of pgbench's statements uncached,
 * as an exact-text cache hit, and as a fingerprint hit (a new literal each time), plus judging
 * the facts against a policy with every guardrail on.
 */
import { defaultGuardrails } from '../src/policy/guardrails.ts';
import { compilePolicy, judgeStatements } from '../src/policy/statement-policy.ts';
import { analyze, createStatementAnalyzer, initSqlParser } from '../src/sql/postgres/index.ts';

const STATEMENTS = {
  select: (n: number) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${n};`,
  update: (n: number) => `UPDATE pgbench_accounts SET abalance = abalance + ${n % 5000} WHERE aid = ${n};`,
};

/** Mean µs per call of `fn(i)` over `iterations`, after a warm-up. */
function microsPerCall(iterations: number, fn: (i: number) => unknown): number {
  for (let i = 0; i < 2000; i++) fn(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  return Number(process.hrtime.bigint() - start) / iterations / 1000;
}

export async function measureAnalysis(): Promise<string[]> {
  await initSqlParser();
  const policy = compilePolicy({
    name: 'bench',
    default: 'allow',
    rules: [],
    guardrails: defaultGuardrails(),
  });
  const lines: string[] = [];
  for (const [name, text] of Object.entries(STATEMENTS)) {
    const uncached = microsPerCall(20_000, (i) => analyze(text(i)));
    const exact = createStatementAnalyzer();
    const exactHit = microsPerCall(200_000, () => exact.analyze(text(1)));
    const shapes = createStatementAnalyzer();
    const fingerprintHit = microsPerCall(200_000, (i) => shapes.analyze(text(i)));
    const facts = analyze(text(1));
    const judge = microsPerCall(200_000, () => judgeStatements([policy], facts));
    lines.push(
      `statement analysis (${name}): ${uncached.toFixed(1)} µs uncached, ${exactHit.toFixed(2)} µs exact-text hit, ` +
        `${fingerprintHit.toFixed(2)} µs fingerprint hit (new literal each time); policy judgement ${judge.toFixed(2)} µs`,
    );
  }
  return lines;
}
