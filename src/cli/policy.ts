/**
 * @module cli/policy
 * `sluice policy check|test`: validate a config's policies, and dry-run a statement through them
 * as a given principal on a given connection, without a gateway or a database. The decision comes
 * from the same evaluator the gateway runs (policy/statement-policy), on the same facts
 * (sql/postgres), so what `test` prints is what a session would get.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parseConfig, type SluiceConfig } from '../config/load.ts';
import type { PolicyConfig } from '../config/schema.ts';
import { formatDuration } from '../core/duration.ts';
import { refusalError } from '../gateway/statement-gate.ts';
import { applicablePolicies } from '../policy/connection-access.ts';
import { compilePolicy, judgeStatements, type Verdict } from '../policy/statement-policy.ts';
import { analyze, initSqlParser, type StatementFacts } from '../sql/postgres/index.ts';
import { collect } from './option-parsers.ts';
import {
  checkSummary,
  describeFacts,
  describePrincipal,
  describeVerdict,
  effectiveLimits,
  fields,
  parsePrincipal,
} from './policy-format.ts';

interface TestOptions {
  config: string;
  as: string[];
  connection: string;
  grant?: string;
  json?: boolean;
}

const AS_HELP = `
--as describes the principal, as comma-separated KEY=VALUE entries (repeat --as to add more):
  groups=NAME        a group (repeat for several: groups=ci,groups=deploy)
  kind=KIND          workload | human | service (default: service, like an API key)
  id=ID              the principal id, e.g. key:… or oidc:<issuer>#<sub> (default: cli:policy-test)
  claim.NAME=VALUE   a string claim; repeated, a list claim
  claim.NAME:=JSON   a typed claim: 42, true, ["a","b"]

Exit status: 0 allow, 1 deny (or an error), 2 review.
SQL-level EXECUTE and FETCH run what an earlier PREPARE or DECLARE stored in the session; a dry
run has no session, so they are reported as unknown and denied.

Example:
  sluice policy test --config sluice.yaml --as groups=ci,kind=workload --connection app "DELETE FROM t"`;

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('check policies and dry-run statements against them');

  policy
    .command('check')
    .description('validate a config file and summarize its policies')
    .requiredOption('-c, --config <file>', 'YAML configuration file (see docs/policy.md)')
    .action(async (opts: { config: string }) => {
      const config = await readConfig(opts.config);
      if (config === undefined) return;
      for (const line of checkSummary(opts.config, config)) console.log(line);
    });

  policy
    .command('test')
    .description('show the facts of SQL and the decision the policies would make, without running it')
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('--as <principal>', 'who runs it: groups=ci,kind=service,… (see below)', collect, [])
    .requiredOption('--connection <name>', 'the connection (database name the client asks for)')
    .option('--grant <policy>', 'judge as under an approved access request for this grant policy')
    .option('--json', 'print one JSON object')
    .argument('<sql>', 'the SQL text, as one Query message would carry it')
    .addHelpText('after', AS_HELP)
    .action(async (sql: string, opts: TestOptions) => {
      const config = await readConfig(opts.config);
      if (config === undefined) return;
      process.exitCode = await dryRun(config, sql, opts);
    });
}

/** Parses and validates without the `env:` check `start` does: checking needs no secrets. */
async function readConfig(path: string): Promise<SluiceConfig | undefined> {
  try {
    return parseConfig(await readFile(path, 'utf8'), path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(
      typeof code === 'string' && code.startsWith('E')
        ? `${path}: cannot read the config file (${code})`
        : error instanceof Error
          ? error.message
          : String(error),
    );
    process.exitCode = 1;
    return undefined;
  }
}

const EXIT: Readonly<Record<Verdict['action'], number>> = { allow: 0, deny: 1, review: 2 };

/** How the gateway would carry out a review: who decides, and how the client waits. */
function describeReview(policy: PolicyConfig | undefined): string {
  if (policy === undefined) return 'hold';
  const { mode, timeoutMs, grantWindowMs, approvers } = policy.review;
  const who = `${approvers.count} of ${approvers.groups.length > 0 ? approvers.groups.join('|') : 'the admin group'}${approvers.stepUpMs === undefined ? '' : `, step-up ${formatDuration(approvers.stepUpMs)}`}`;
  return mode === 'hold'
    ? `held on the connection up to ${formatDuration(timeoutMs)} for ${who}`
    : `ticket: refused now; once ${who} approve, the identical statement runs once within ${formatDuration(grantWindowMs)}`;
}

async function dryRun(config: SluiceConfig, sql: string, opts: TestOptions): Promise<number> {
  const principal = parsePrincipal(opts.as);
  const connection = config.connections.find((c) => c.name === opts.connection);
  if (connection === undefined) {
    console.error(
      `sluice: no connection named "${opts.connection}" in ${opts.config} (it has: ${config.connections.map((c) => c.name).join(', ') || 'none'})`,
    );
    return 1;
  }
  // Grant policies apply only under an approved access request, and then replace the others.
  const policies = applicablePolicies(
    config.policies.filter((p) =>
      opts.grant === undefined ? p.grant === undefined : p.name === opts.grant && p.grant !== undefined,
    ),
    principal,
    connection,
  );
  if (policies.length === 0) {
    const message = `connection "${connection.name}" is not granted to ${describePrincipal(principal)}: no policy matches`;
    if (opts.json) {
      console.log(JSON.stringify({ principal, connection: connection.name, policies: [], granted: false }));
    } else {
      console.log(message);
    }
    return 1;
  }
  await initSqlParser();
  const compiled = policies.map(compilePolicy);
  const statements = analyze(sql).map(asDryRun);
  const perStatement = statements.map((facts) => judgeStatements(compiled, [facts]));
  const decision = judgeStatements(compiled, statements);
  const limits = effectiveLimits(policies);
  const refusal = decision.action === 'allow' ? undefined : refusalError(decision);
  const error =
    refusal === undefined
      ? undefined
      : { sqlstate: refusal.sqlstate, message: refusal.message, hint: refusal.hint };

  if (opts.json) {
    console.log(
      JSON.stringify({
        principal,
        connection: connection.name,
        granted: true,
        policies: policies.map((p) => p.name),
        statements: statements.map((facts, i) => ({ facts, decision: perStatement[i] })),
        decision,
        error,
        limits,
      }),
    );
    return EXIT[decision.action];
  }

  const out: string[] = [
    ...fields(
      [
        ['principal', describePrincipal(principal)],
        [
          'connection',
          `${connection.name}${connection.tags.length > 0 ? ` (tags ${connection.tags.join(', ')})` : ''}`,
        ],
        ['policies', policies.map((p) => p.name).join(', ')],
      ],
      '',
    ),
  ];
  if (statements.length === 0) out.push('', 'no statement (the server answers an empty query)');
  statements.forEach((facts, i) => {
    const verdict = perStatement[i];
    const judged: [string, string][] =
      verdict === undefined
        ? []
        : [
            ['decision', describeVerdict(verdict)],
            ['reason', verdict.reason],
          ];
    out.push('', `statement ${i + 1}`, ...fields([...describeFacts(facts), ...judged]));
  });
  const limitRows = Object.entries(limits).map(
    ([name, limit]) => [name, `${limit.value} (policy "${limit.policy}")`] as [string, string],
  );
  out.push(
    '',
    ...fields(
      [
        ['decision', describeVerdict(decision)],
        ['reason', decision.reason],
        ...(decision.action === 'review'
          ? ([['review', describeReview(policies.find((p) => p.name === decision.policy))]] as [
              string,
              string,
            ][])
          : []),
        ...(error === undefined
          ? []
          : ([
              ['client sees', `ERROR ${error.sqlstate} ${error.message}`],
              ['hint', error.hint ?? ''],
            ] as [string, string][])),
        ['limits', limitRows.length === 0 ? 'none' : ''],
      ],
      '',
    ),
  );
  if (limitRows.length > 0) {
    out.pop();
    out.push('limits', ...fields(limitRows));
  }
  for (const line of out) console.log(line);
  return EXIT[decision.action];
}

/**
 * EXECUTE and FETCH carry no SQL: the gateway judges them as what PREPARE or DECLARE stored in
 * the session, and refuses a name it never allowed. A dry run has no session, so they are unknown.
 */
function asDryRun(facts: StatementFacts): StatementFacts {
  const action = facts.prepared?.action;
  if (action !== 'execute' && action !== 'fetch') return facts;
  const name = facts.prepared?.name ?? '';
  const what =
    action === 'execute' ? `EXECUTE of prepared statement "${name}"` : `FETCH from cursor "${name}"`;
  const source = action === 'execute' ? 'PREPARE' : 'DECLARE';
  return {
    ...facts,
    effects: ['unknown'],
    unknownNodes: [
      `${what}: a dry run has no session, so no ${source} stored it (the gateway judges it as the statement ${source} stored, and refuses a name it never allowed)`,
    ],
  };
}
