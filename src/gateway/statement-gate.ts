/**
 * @module gateway/statement-gate
 * The policy layer seen from one PostgreSQL session: statement facts (sql/) judged by the pure
 * evaluator (policy/), plus the session state the server keeps and a statement's meaning depends
 * on. `EXECUTE p` and `FETCH c` carry no SQL of their own, so they are judged as the statement
 * that `PREPARE`/Parse or `DECLARE` stored under that name; a name the gateway never allowed is
 * refused (fail closed).
 *
 * The maps are updated when a message is forwarded, not when the server confirms it, so they can
 * only hold *more* allowed names than the server, never a name the server holds with other SQL:
 * named statements cannot be redefined without DEALLOCATE or Close, both of which are tracked.
 */
import { ClientFacingError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ResultPlan } from '../core/result-plan.ts';
import type { Principal } from '../identity/principal.ts';
import { type ColumnRules, type PlanOptions, planStatement } from '../policy/column-rules.ts';
import {
  type CompiledPolicy,
  judgeFunctionCall,
  judgeStatements,
  type Verdict,
} from '../policy/statement-policy.ts';
import type { GateVerdict, ResultLimits, ResultMasker, StatementGate } from '../protocols/postgres/ports.ts';
import type { OutputLineage, StatementFacts } from '../sql/postgres/index.ts';
import { limitExceeded } from './result-limits.ts';

export type Analyze = (sql: string) => readonly StatementFacts[];

export interface StatementGateOptions {
  readonly principal: Principal;
  readonly connection: string;
  readonly policies: readonly CompiledPolicy[];
  readonly analyze: Analyze;
  readonly limits: ResultLimits | undefined;
  /** Undefined when masking is off for every policy of the session. */
  readonly masker: ResultMasker | undefined;
  /** Once the session has changed more rows than this, further writes are refused (53400). */
  readonly affectedRowsBudget?: { readonly value: number; readonly policy: string } | undefined;
  readonly logger: Logger;
  /** Counts refusals by decision (deny, review, limit) and rule. */
  readonly refused: (decision: string, rule: string) => void;
  /** Sensitive-column rules; absent when none apply to the session (then no lineage is computed). */
  readonly columns?: ColumnRuleContext | undefined;
}

export interface ColumnRuleContext {
  /** The rules, views included; undefined while the connection's catalog cannot be read. */
  rules(): ColumnRules | undefined;
  readonly options: PlanOptions;
  lineage(sql: string): readonly OutputLineage[];
  /** DDL ran (and committed): the views may have changed, so the catalog is read again. */
  schemaChanged(): void;
}

const ALLOWED: GateVerdict = { allowed: true };

/** What a prepared statement or cursor runs, and the column-rule plan of its result. */
interface Stored {
  readonly facts: StatementFacts;
  readonly plan: ResultPlan | undefined;
}

/** Allowed, with the plans only when some statement has one (the session then tracks shapes). */
function allowedWith(plans: readonly (ResultPlan | undefined)[]): GateVerdict {
  return plans.some((plan) => plan !== undefined) ? { allowed: true, plans } : ALLOWED;
}

/** A statement on a sensitive table whose result carries none of its columns (an UPDATE, a count). */
const WITHHOLD_ERRORS_ONLY: ResultPlan = { fieldRules: () => [], withholdErrors: true };

export class PolicyStatementGate implements StatementGate {
  readonly limits: ResultLimits | undefined;
  readonly masker: ResultMasker | undefined;
  readonly #options: StatementGateOptions;
  /**
   * Prepared statements by name ('' is the unnamed one), shared by Parse and SQL PREPARE, and
   * cursors: what each runs, and its column-rule plan, for EXECUTE and FETCH.
   */
  readonly #statements = new Map<string, Stored>();
  readonly #cursors = new Map<string, Stored>();
  #affectedRows = 0;
  #ddlSinceCommit = false;
  /**
   * Verdicts by analysis result. The shared analyzer hands out the same frozen array for a
   * repeated text or shape, so a session judges each shape once; resolved EXECUTE/FETCH facts
   * are new arrays and are always judged afresh.
   */
  readonly #verdicts = new WeakMap<readonly StatementFacts[], Verdict>();

  constructor(options: StatementGateOptions) {
    this.#options = options;
    this.limits = options.limits;
    this.masker = options.masker;
  }

  query(sql: string): GateVerdict {
    const facts = this.#resolve(this.#options.analyze(sql));
    const verdict = this.#judge(facts);
    if (verdict.action !== 'allow') return this.#refuse(verdict, facts);
    const overBudget = this.#overWriteBudget(facts);
    if (overBudget) return overBudget;
    const plans = this.#plan(sql, facts);
    if (!Array.isArray(plans)) return plans as GateVerdict;
    facts.forEach((statement, i) => {
      this.#track(statement, plans[i]);
    });
    return allowedWith(plans);
  }

  parse(name: string, sql: string): GateVerdict {
    // The server drops the unnamed statement as soon as a new Parse for it arrives.
    if (name === '') this.#statements.delete('');
    const facts = this.#resolve(this.#options.analyze(sql));
    const verdict = this.#judge(facts);
    if (verdict.action !== 'allow') return this.#refuse(verdict, facts);
    const overBudget = this.#overWriteBudget(facts);
    if (overBudget) return overBudget;
    const plans = this.#plan(sql, facts);
    if (!Array.isArray(plans)) return plans as GateVerdict;
    const [only, extra] = facts;
    const [plan] = plans;
    // More than one statement is refused by the server itself; it never becomes a statement.
    if (only !== undefined && extra === undefined) {
      if (!this.#statements.has(name)) this.#statements.set(name, { facts: only, plan });
      this.#track(only, plan);
    }
    return allowedWith(plans);
  }

  /**
   * Column rules: the per-statement result plans, or a refusal (a sensitive column used as a
   * predicate, copied into a table, or out of the gateway's sight). EXECUTE and FETCH take the
   * plan stored with their PREPARE (or Parse) and DECLARE.
   */
  #plan(sql: string, facts: readonly StatementFacts[]): readonly (ResultPlan | undefined)[] | GateVerdict {
    const columns = this.#options.columns;
    if (columns === undefined) return [];
    const rules = columns.rules();
    if (rules === undefined) {
      return {
        allowed: false,
        error: new ClientFacingError(
          '57P03',
          'sluice: column rules are not ready: the catalog of this connection could not be read yet',
          { hint: 'Try again in a moment; if it persists, an operator should check the gateway log.' },
        ),
      };
    }
    this.#noteSchemaChanges(facts, columns);
    const lineages = columns.lineage(sql);
    const plans: (ResultPlan | undefined)[] = [];
    for (const [i, f] of facts.entries()) {
      const l = lineages[i];
      const p = f.prepared;
      if (p?.action === 'execute' || p?.action === 'fetch') {
        // #resolve has refused names the gateway never allowed, so the entry is there.
        plans.push((p.action === 'execute' ? this.#statements : this.#cursors).get(p.name ?? '')?.plan);
        continue;
      }
      const decision =
        l === undefined
          ? { refuse: 'the statement could not be traced' }
          : planStatement(l, rules, columns.options);
      if ('refuse' in decision) return this.#refuseColumns(decision.refuse);
      const touches = [...f.tables.read, ...f.tables.written].some((t) => rules.tableSensitive(t));
      const plan = decision.plan;
      plans.push(
        plan === undefined
          ? touches
            ? WITHHOLD_ERRORS_ONLY
            : undefined
          : { fieldRules: (fields) => plan.fieldRules(fields), withholdErrors: touches },
      );
    }
    return plans;
  }

  /**
   * Views come from the catalog, which sees DDL once it is committed: after DDL the catalog is
   * read again at once (autocommit) and again at the next COMMIT.
   */
  #noteSchemaChanges(facts: readonly StatementFacts[], columns: ColumnRuleContext): void {
    if (facts.some((f) => f.effects.includes('ddl'))) {
      this.#ddlSinceCommit = true;
      columns.schemaChanged();
    } else if (this.#ddlSinceCommit && facts.some((f) => f.transaction === 'commit')) {
      this.#ddlSinceCommit = false;
      columns.schemaChanged();
    }
  }

  #refuseColumns(reason: string): GateVerdict {
    const policy = this.#options.policies[0]?.name ?? '';
    return this.#refuse({ action: 'deny', policy, rule: 'masking columns', reason }, []);
  }

  closeStatement(name: string): void {
    this.#statements.delete(name);
  }

  affected(command: string, rows: number): void {
    this.#affectedRows += rows;
    const { principal, connection, logger } = this.#options;
    logger.info(
      { principal: principal.id, connection, command, rows, sessionTotal: this.#affectedRows },
      'rows affected',
    );
  }

  /** Split deletes add up: past the session's budget, no further statement may write. */
  #overWriteBudget(facts: readonly StatementFacts[]): GateVerdict | undefined {
    const budget = this.#options.affectedRowsBudget;
    if (budget === undefined || this.#affectedRows < budget.value) return undefined;
    if (!facts.some((f) => f.effects.includes('write'))) return undefined;
    this.#options.refused('limit', 'affectedRowsPerSession');
    return { allowed: false, error: limitExceeded('affectedRowsPerSession', budget) };
  }

  functionCall(): GateVerdict {
    const verdict = judgeFunctionCall(this.#options.policies);
    return verdict.action === 'allow' ? ALLOWED : this.#refuse(verdict, []);
  }

  #judge(facts: readonly StatementFacts[]): Verdict {
    const known = this.#verdicts.get(facts);
    if (known !== undefined) return known;
    const verdict = judgeStatements(this.#options.policies, facts);
    this.#verdicts.set(facts, verdict);
    return verdict;
  }

  /** EXECUTE and FETCH take the facts of what they run; unknown names stay unknown. */
  #resolve(facts: readonly StatementFacts[]): readonly StatementFacts[] {
    if (!facts.some((f) => f.prepared?.action === 'execute' || f.prepared?.action === 'fetch')) return facts;
    return facts.map((f) => {
      const action = f.prepared?.action;
      const name = f.prepared?.name ?? '';
      if (action === 'execute') {
        // The walker marks EXECUTE itself unknown; anything else unknown in it stays unknown.
        if (f.unknownNodes !== undefined || f.error !== undefined) return f;
        return this.#asStored(
          f,
          this.#statements.get(name)?.facts,
          `EXECUTE of prepared statement "${name}"`,
        );
      }
      if (action === 'fetch') {
        return this.#asStored(f, this.#cursors.get(name)?.facts, `FETCH from cursor "${name}"`);
      }
      return f;
    });
  }

  #asStored(f: StatementFacts, stored: StatementFacts | undefined, what: string): StatementFacts {
    if (stored === undefined) {
      return { ...f, effects: ['unknown'], unknownNodes: [`${what}, which the gateway has not allowed`] };
    }
    return {
      ...stored,
      kind: f.kind,
      functions: [...new Set([...stored.functions, ...f.functions])].sort(),
      ...(f.prepared === undefined ? {} : { prepared: f.prepared }),
    };
  }

  /**
   * Mirrors the server's SQL-level statement and cursor lifecycle for allowed statements, once
   * the whole message is allowed (a refusal anywhere in it stores nothing).
   */
  #track(f: StatementFacts, plan: ResultPlan | undefined): void {
    const p = f.prepared;
    if (p === undefined) return;
    switch (p.action) {
      case 'prepare':
        if (p.name !== undefined && p.inner !== undefined && !this.#statements.has(p.name))
          this.#statements.set(p.name, { facts: p.inner, plan });
        break;
      case 'declare':
        if (p.name !== undefined && p.inner !== undefined)
          this.#cursors.set(p.name, { facts: p.inner, plan });
        break;
      case 'deallocate':
        if (p.name === undefined) this.#statements.clear();
        else this.#statements.delete(p.name);
        break;
      case 'close':
        if (p.name === undefined) this.#cursors.clear();
        else this.#cursors.delete(p.name);
        break;
      case 'discard':
        // DISCARD ALL (the only form that resets everything) is the one that drops both.
        if (f.settings.includes('*')) {
          this.#statements.clear();
          this.#cursors.clear();
        }
        break;
      default:
        break;
    }
  }

  #refuse(verdict: Verdict, facts: readonly StatementFacts[]): GateVerdict {
    const { principal, connection, logger } = this.#options;
    logger.info(
      {
        principal: principal.id,
        connection,
        decision: verdict.action,
        policy: verdict.policy,
        rule: verdict.rule,
        kinds: facts.map((f) => f.kind),
      },
      'statement refused',
    );
    this.#options.refused(verdict.action, verdict.rule);
    return { allowed: false, error: refusalError(verdict) };
  }
}

/** 42501 with the policy, the reason, and a hint that says what to do next. */
export function refusalError(verdict: Verdict): ClientFacingError {
  const policy =
    verdict.policy === '' ? 'sluice: blocked by policy' : `sluice: blocked by policy "${verdict.policy}"`;
  if (verdict.action === 'review') {
    return new ClientFacingError('42501', `${policy}: approval required: ${verdict.reason}`, {
      hint: `The ${verdict.rule} asks for review, and this gateway cannot hold statements for approval yet; ask an operator to run it or to relax the rule.`,
    });
  }
  return new ClientFacingError('42501', `${policy}: ${verdict.reason}`, {
    hint:
      verdict.rule === 'unanalyzable'
        ? 'The gateway refuses what it cannot analyze; the statement was not sent to the database.'
        : `Refused by ${verdict.rule}; the statement was not sent to the database. Ask an operator if you need it.`,
  });
}
