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

import type { BoundParameter } from '../approvals/statement-view.ts';
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
import type {
  FinalVerdict,
  GateVerdict,
  NoticeText,
  ResultLimits,
  ResultMasker,
  SessionSummary,
  StatementGate,
  StatementOutcome,
} from '../protocols/postgres/ports.ts';
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
  /** Asks a human about statements a policy sends to review; absent, they are refused. */
  readonly reviewer?: Reviewer | undefined;
  /** The audit trail of this session; absent, nothing is recorded (e.g. `sluice policy test`). */
  readonly recorder?: SessionRecorder | undefined;
  /**
   * Judging a message threw (a bug or a misbehaving analyzer, not a refusal): reported here for
   * the operators' alert, then rethrown so the session fails closed.
   */
  readonly evaluationFailed?: ((error: unknown) => void) | undefined;
}

/** What the gate decided about one client message, for the audit trail. */
export interface StatementDecision {
  readonly sql: string;
  readonly kinds: readonly string[];
  readonly decision: 'allow' | 'deny' | 'review' | 'limit';
  readonly policy: string;
  readonly rule: string;
  /** The approval request a review opened (hold), or the ticket it opened or used; else null. */
  readonly approvalId: string | null;
}

/**
 * The audit trail of one session. Decisions are recorded before the message is forwarded; when
 * the trail cannot be written and a policy says `audit.failMode: closed`, `unavailable` returns
 * the refusal and nothing is forwarded.
 */
export interface SessionRecorder {
  /** Rows of each result to keep for the recording (0: none). */
  readonly previewRows: number;
  unavailable(): ClientFacingError | undefined;
  decided(decision: StatementDecision): void;
  opened(): void;
  completed(outcome: StatementOutcome): void;
  closed(summary: SessionSummary): void;
}

/** A statement (with its bound parameters) that a policy sends to review. */
export interface ReviewRequest {
  readonly verdict: Verdict;
  /** What runs: the message text, preceded by the PREPARE or Parse text for an EXECUTE. */
  readonly sql: string;
  readonly parameters: readonly BoundParameter[];
  /** An UPDATE or DELETE calling no function, so the planner's row estimate is safe to ask for. */
  readonly estimateRows: boolean;
}

/** A review in progress: `outcome` resolves to undefined when approved, else to the refusal. */
export interface PendingReview {
  readonly notice: NoticeText | undefined;
  readonly outcome: Promise<ClientFacingError | undefined>;
  /**
   * The approval request this review opened or used: known at once for a hold; for a ticket,
   * once `outcome` has settled (the ticket it opened, or the approved one it used).
   */
  approvalId(): string | undefined;
  withdraw(reason: 'cancel' | 'disconnect'): void;
}

export type Reviewer = (request: ReviewRequest) => PendingReview;

export interface ColumnRuleContext {
  /** The rules, views included; undefined while the connection's catalog cannot be read. */
  rules(): ColumnRules | undefined;
  readonly options: PlanOptions;
  lineage(sql: string): readonly OutputLineage[];
  /** DDL ran (and committed): the views may have changed, so the catalog is read again. */
  schemaChanged(): void;
}

const ALLOWED: FinalVerdict = { allowed: true };

/** What a prepared statement or cursor runs, and the column-rule plan of its result. */
interface Stored {
  readonly facts: StatementFacts;
  readonly plan: ResultPlan | undefined;
  /** The text that defined it (PREPARE or Parse), shown to approvers of its executions. */
  readonly sql: string;
  /** Set when running it needs review: it is held at each EXECUTE or Execute. */
  readonly review?: Verdict | undefined;
}

/** A portal bound from a statement that needs review, with the parameters to approve. */
interface BoundPortal {
  readonly statement: Stored & { readonly review: Verdict };
  readonly parameters: readonly BoundParameter[];
  /** Approved once: later Executes of the same portal (fetching more rows) continue it. */
  approved: boolean;
}

/** Allowed, with the plans only when some statement has one (the session then tracks shapes). */
function allowedWith(plans: readonly (ResultPlan | undefined)[]): FinalVerdict {
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
  /** Only portals of statements that need review; empty on the hot path. */
  readonly #portals = new Map<string, BoundPortal>();
  #affectedRows = 0;
  #ddlSinceCommit = false;
  /** The text being judged, for the decision record (FunctionCall has none). */
  #sql = '';
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
    return this.#evaluating(() => this.#query(sql));
  }

  #query(sql: string): GateVerdict {
    const unrecordable = this.#begin(sql);
    if (unrecordable) return unrecordable;
    const facts = this.#resolve(this.#options.analyze(sql));
    const verdict = this.#reviewAtExecute(facts, this.#judge(facts));
    if (verdict.action === 'deny') return this.#refuse(verdict, facts);
    const overBudget = this.#overWriteBudget(facts);
    if (overBudget) return overBudget;
    const plans = this.#plan(sql, facts);
    if (!Array.isArray(plans)) return plans as FinalVerdict;
    const track = (): FinalVerdict => {
      facts.forEach((statement, i) => {
        this.#track(statement, plans[i], sql);
      });
      return allowedWith(plans);
    };
    if (verdict.action === 'allow') {
      this.#record(verdict, facts);
      return track();
    }
    return this.#hold(verdict, facts, this.#reviewText(facts, sql), [], track);
  }

  /**
   * PREPARE runs nothing: when only the body of a PREPARE needs review, the PREPARE is allowed
   * and each EXECUTE is held instead, with its parameters (one approval per execution).
   */
  #reviewAtExecute(facts: readonly StatementFacts[], verdict: Verdict): Verdict {
    if (verdict.action !== 'review' || !facts.some(isPrepare)) return verdict;
    return judgeStatements(this.#options.policies, facts.map(withoutBody));
  }

  /**
   * The review a PREPARE's body needs, stored with it so that every EXECUTE and Execute of it is
   * held (approving the message that PREPAREs approves no later run of it).
   */
  #bodyReview(body: StatementFacts): Verdict | undefined {
    const verdict = judgeStatements(this.#options.policies, [body]);
    return verdict.action === 'review' ? verdict : undefined;
  }

  /** What an approver of an EXECUTE needs to see: what was prepared, then the EXECUTE. */
  #reviewText(facts: readonly StatementFacts[], sql: string): string {
    const prepared = facts
      .filter((f) => f.prepared?.action === 'execute')
      .map((f) => this.#statements.get(f.prepared?.name ?? '')?.sql)
      .filter((text) => text !== undefined);
    return [...prepared, sql].join(';\n');
  }

  parse(name: string, sql: string): FinalVerdict {
    return this.#evaluating(() => this.#parse(name, sql));
  }

  #parse(name: string, sql: string): FinalVerdict {
    const unrecordable = this.#begin(sql);
    if (unrecordable) return unrecordable;
    // The server drops the unnamed statement as soon as a new Parse for it arrives.
    if (name === '') this.#statements.delete('');
    const facts = this.#resolve(this.#options.analyze(sql));
    const verdict = this.#judge(facts);
    // Parse runs nothing: a statement that needs review is held at Execute, with its parameters.
    if (verdict.action === 'deny') return this.#refuse(verdict, facts);
    const review = verdict.action === 'review' ? verdict : undefined;
    const overBudget = this.#overWriteBudget(facts);
    if (overBudget) return overBudget;
    const plans = this.#plan(sql, facts);
    if (!Array.isArray(plans)) return plans as FinalVerdict;
    const [only, extra] = facts;
    const [plan] = plans;
    // More than one statement is refused by the server itself; it never becomes a statement.
    if (only !== undefined && extra === undefined) {
      if (!this.#statements.has(name)) this.#statements.set(name, { facts: only, plan, sql, review });
      this.#track(only, plan, sql);
    } else if (review !== undefined) {
      return this.#refuse(review, facts);
    }
    this.#record(verdict, facts);
    return allowedWith(plans);
  }

  get previewRows(): number {
    return this.#options.recorder?.previewRows ?? 0;
  }

  opened(): void {
    this.#options.recorder?.opened();
  }

  completed(outcome: StatementOutcome): void {
    this.#options.recorder?.completed(outcome);
  }

  closed(summary: SessionSummary): void {
    this.#options.recorder?.closed(summary);
  }

  /**
   * Starts judging a message: its text is what the decision record will show, and nothing is
   * judged (or forwarded) while the audit trail cannot record the decision (failMode: closed).
   */
  #begin(sql: string): FinalVerdict | undefined {
    this.#sql = sql;
    const unavailable = this.#options.recorder?.unavailable();
    return unavailable ? { allowed: false, error: unavailable } : undefined;
  }

  /** The decision record, written before the message is forwarded (or refused). */
  #record(
    verdict: Verdict,
    facts: readonly StatementFacts[],
    decision: StatementDecision['decision'] = verdict.action,
    approvalId: string | null = null,
    sql = this.#sql,
  ): void {
    this.#options.recorder?.decided({
      sql,
      kinds: facts.map((f) => f.kind),
      decision,
      policy: verdict.policy,
      rule: verdict.rule,
      approvalId,
    });
  }

  bind(
    portal: string,
    statement: string,
    parameters: readonly (Buffer | null)[],
    formats: readonly number[],
  ): void {
    const stored = this.#statements.get(statement);
    if (stored?.review === undefined) {
      if (this.#portals.size > 0) this.#portals.delete(portal);
      return;
    }
    this.#portals.set(portal, {
      statement: { ...stored, review: stored.review },
      parameters: parameters.map((value, i) => ({
        value: value === null ? null : Buffer.from(value),
        format: (formats.length === 1 ? formats[0] : formats[i]) ?? 0,
      })),
      approved: false,
    });
  }

  execute(portal: string): GateVerdict {
    if (this.#portals.size === 0) return ALLOWED;
    return this.#evaluating(() => this.#execute(portal));
  }

  #execute(portal: string): GateVerdict {
    const bound = this.#portals.get(portal);
    if (bound === undefined || bound.approved) return ALLOWED;
    const { review, facts, sql } = bound.statement;
    this.#sql = sql;
    return this.#hold(review, [facts], sql, bound.parameters, () => {
      bound.approved = true;
      return ALLOWED;
    });
  }

  /**
   * Hands the statement to the reviewer; the session waits for the outcome. Without a reviewer
   * (approvals not wired, e.g. `sluice policy test`) review refuses, as it must fail closed.
   */
  #hold(
    verdict: Verdict,
    facts: readonly StatementFacts[],
    sql: string,
    parameters: readonly BoundParameter[],
    onApproved: () => FinalVerdict,
  ): GateVerdict {
    const reviewer = this.#options.reviewer;
    if (reviewer === undefined) return this.#refuse(verdict, facts);
    const { principal, connection, logger } = this.#options;
    logger.info(
      {
        principal: principal.id,
        connection,
        policy: verdict.policy,
        rule: verdict.rule,
        kinds: facts.map((f) => f.kind),
      },
      'statement held for review',
    );
    const pending = reviewer({ verdict, sql, parameters, estimateRows: rowsEstimable(facts) });
    // A hold is recorded now, with its request, before the wait; a ticket once it is known
    // which one it opened or used (still before anything is forwarded).
    const text = this.#sql;
    const heldAs = pending.approvalId();
    if (heldAs !== undefined) this.#record(verdict, facts, verdict.action, heldAs);
    return {
      allowed: 'held',
      hold: {
        notice: pending.notice,
        withdraw: (reason) => pending.withdraw(reason),
        outcome: pending.outcome.then(
          (error): FinalVerdict => {
            if (heldAs === undefined)
              this.#record(verdict, facts, verdict.action, pending.approvalId() ?? null, text);
            return error === undefined ? onApproved() : { allowed: false, error };
          },
          // The reviewer never rejects; if it somehow does, the statement is refused (fail closed).
          (): FinalVerdict => ({ allowed: false, error: refusalError(verdict) }),
        ),
      },
    };
  }

  /**
   * Column rules: the per-statement result plans, or a refusal (a sensitive column used as a
   * predicate, copied into a table, or out of the gateway's sight). EXECUTE and FETCH take the
   * plan stored with their PREPARE (or Parse) and DECLARE.
   */
  #plan(sql: string, facts: readonly StatementFacts[]): readonly (ResultPlan | undefined)[] | FinalVerdict {
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

  #refuseColumns(reason: string): FinalVerdict {
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
  #overWriteBudget(facts: readonly StatementFacts[]): FinalVerdict | undefined {
    const budget = this.#options.affectedRowsBudget;
    if (budget === undefined || this.#affectedRows < budget.value) return undefined;
    if (!facts.some((f) => f.effects.includes('write'))) return undefined;
    this.#options.refused('limit', 'affectedRowsPerSession');
    const error = limitExceeded('affectedRowsPerSession', budget);
    this.#record(
      { action: 'deny', policy: budget.policy, rule: 'limit affectedRowsPerSession', reason: error.message },
      facts,
      'limit',
    );
    return { allowed: false, error };
  }

  functionCall(): FinalVerdict {
    return this.#evaluating(() => this.#functionCall());
  }

  #functionCall(): FinalVerdict {
    const unrecordable = this.#begin('');
    if (unrecordable) return unrecordable;
    const verdict = judgeFunctionCall(this.#options.policies);
    if (verdict.action !== 'allow') return this.#refuse(verdict, []);
    this.#record(verdict, []);
    return ALLOWED;
  }

  /** Runs one judgement; a throw is reported (for alerting) and rethrown, so the session fails closed. */
  #evaluating<T>(judge: () => T): T {
    try {
      return judge();
    } catch (error) {
      this.#options.evaluationFailed?.(error);
      throw error;
    }
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
    // Judged as what it runs, kind included: a `kinds: [DeleteStmt]` rule must see through EXECUTE.
    return {
      ...stored,
      functions: [...new Set([...stored.functions, ...f.functions])].sort(),
      ...(f.prepared === undefined ? {} : { prepared: f.prepared }),
    };
  }

  /**
   * Mirrors the server's SQL-level statement and cursor lifecycle for allowed statements, once
   * the whole message is allowed (a refusal anywhere in it stores nothing).
   */
  #track(f: StatementFacts, plan: ResultPlan | undefined, sql: string): void {
    const p = f.prepared;
    if (p === undefined) return;
    switch (p.action) {
      case 'prepare':
        if (p.name !== undefined && p.inner !== undefined && !this.#statements.has(p.name))
          this.#statements.set(p.name, { facts: p.inner, plan, sql, review: this.#bodyReview(p.inner) });
        break;
      case 'declare':
        if (p.name !== undefined && p.inner !== undefined)
          this.#cursors.set(p.name, { facts: p.inner, plan, sql });
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

  #refuse(verdict: Verdict, facts: readonly StatementFacts[]): FinalVerdict {
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
    this.#record(verdict, facts, verdict.action === 'allow' ? 'deny' : verdict.action);
    return { allowed: false, error: refusalError(verdict) };
  }
}

function isPrepare(f: StatementFacts): boolean {
  return f.prepared?.action === 'prepare';
}

/** A PREPARE judged as what it does itself (stores a statement), not as what it will run. */
function withoutBody(f: StatementFacts): StatementFacts {
  if (!isPrepare(f)) return f;
  return {
    ...f,
    effects: ['session'],
    writes: [],
    tables: { read: [], written: [] },
    functions: [],
    destructive: false,
  };
}

/** The planner can estimate it without running anything of the caller's choosing. */
function rowsEstimable(facts: readonly StatementFacts[]): boolean {
  const [only, extra] = facts;
  return (
    only !== undefined &&
    extra === undefined &&
    only.functions.length === 0 &&
    only.writes.length > 0 &&
    only.writes.every((w) => w.kind === 'update' || w.kind === 'delete')
  );
}

/** 42501 with the policy, the reason, and a hint that says what to do next. */
export function refusalError(verdict: Verdict): ClientFacingError {
  const policy =
    verdict.policy === '' ? 'sluice: blocked by policy' : `sluice: blocked by policy "${verdict.policy}"`;
  if (verdict.action === 'review') {
    return new ClientFacingError('42501', `${policy}: approval required: ${verdict.reason}`, {
      hint: `The ${verdict.rule} asks for review: through the gateway, the statement waits for an approver (hold mode) or is refused with a ticket to approve (ticket mode).`,
    });
  }
  return new ClientFacingError('42501', `${policy}: ${verdict.reason}`, {
    hint:
      verdict.rule === 'unanalyzable'
        ? 'The gateway refuses what it cannot analyze; the statement was not sent to the database.'
        : `Refused by ${verdict.rule}; the statement was not sent to the database. Ask an operator if you need it.`,
  });
}
