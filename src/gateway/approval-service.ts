/**
 * @module gateway/approval-service
 * The just-in-time approval workflow of one gateway replica:
 *
 * - **Statement review.** A statement a policy sends to `review` is held on its connection
 *   (`hold`) or refused with a ticket (`ticket`). The request lives in the store; any replica's
 *   API may decide it, and the store's change feed (LISTEN/NOTIFY on PostgreSQL) tells the
 *   replica holding the statement. An approval covers exactly one run of exactly that statement:
 *   the binding hash covers principal, connection, canonical SQL and bound parameters.
 * - **Access requests.** A principal asks for a `grant` policy on a connection for a while; once
 *   approved, its new sessions there run under that policy, and they are closed when it ends.
 *
 * Approver rules (groups, count, no self-approval, step-up) are checked here; the repository
 * makes each transition atomic. Every state change is an audit event; notifications carry the
 * literal-free statement only.
 */
import { randomBytes } from 'node:crypto';
import { type AccessRequestInput, ApprovalError, type Approvals } from '../approvals/approvals.ts';
import type { ApprovalNotice } from '../approvals/notify.ts';
import {
  type BoundParameter,
  bindingHash,
  type StatementView,
  viewStatement,
} from '../approvals/statement-view.ts';
import { type AuditSink, actorOf, principalRecord } from '../audit/events.ts';
import type { ApproverRule, PolicyConfig, ReviewConfig } from '../config/schema.ts';
import { formatDuration } from '../core/duration.ts';
import { ClientFacingError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { TextScanner } from '../dlp/index.ts';
import type { Principal } from '../identity/principal.ts';
import { applicablePolicies, type ConnectionRef } from '../policy/connection-access.ts';
import type {
  AccessRequestRecord,
  ApprovalRepository,
  ApprovalRequestRecord,
  RequestFilter,
  StatementApprovalRecord,
} from '../store/store.ts';
import type { PendingReview, Reviewer, ReviewRequest } from './statement-gate.ts';

/** How long an access request may wait for a decision. */
const ACCESS_REQUEST_TIMEOUT_MS = 3_600_000;
/** How often pending requests past their deadline are marked expired (tickets, access). */
const EXPIRY_SWEEP_MS = 10_000;
/** setTimeout's ceiling; longer grants are re-armed by the sweep. */
const MAX_TIMER_MS = 2_147_483_647;

export interface ApprovalServiceOptions {
  readonly repository: ApprovalRepository;
  readonly policies: readonly PolicyConfig[];
  /** Connection names and tags (grant policies may name connections by tag). */
  readonly connections: ReadonlyMap<string, readonly string[]>;
  /** Approves wherever a policy names no approver groups, and sees every request. */
  readonly adminGroup: string;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly notify: (notice: ApprovalNotice) => void;
  /** Base of the links in notices and notifications. */
  readonly publicUrl: string;
  /** This replica, recorded on the statements it holds. */
  readonly replica: string;
  /** Masks literal values in what approvers see. */
  readonly scanner: TextScanner;
  /** The planner's row estimate for an UPDATE/DELETE on a connection; null when unknown. */
  readonly estimateRows: (
    connection: string,
    sql: string,
    parameters: readonly BoundParameter[],
  ) => Promise<number | null>;
  /** An access grant ended (expired or revoked): close the sessions opened under it. */
  readonly grantEnded: (requestId: string) => number;
  readonly now?: () => Date;
}

/** A statement as approvers see it, and the binding hash of its approval. */
interface Described {
  readonly view: StatementView;
  readonly hash: string;
}

/** A held statement's handler for the state its request reached. */
type Waiter = (record: ApprovalRequestRecord) => void;

export class ApprovalService implements Approvals {
  readonly #options: ApprovalServiceOptions;
  readonly #now: () => Date;
  readonly #waiters = new Map<string, Waiter>();
  /** Access grants with sessions on this replica: the timer that ends each. */
  readonly #grants = new Map<string, NodeJS.Timeout>();
  /** Withdrawals still being written; shutdown waits for them before the store closes. */
  readonly #withdrawals = new Set<Promise<void>>();
  #stopFeed: (() => Promise<void>) | undefined;
  #sweep: NodeJS.Timeout | undefined;

  constructor(options: ApprovalServiceOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    this.#stopFeed = await this.#options.repository.onChange((id) => this.#changed(id));
    this.#sweep = setInterval(() => void this.#expireOverdue(), EXPIRY_SWEEP_MS);
    this.#sweep.unref();
  }

  /** Held statements fail (the client sees the gateway go), records stay for audit. */
  async stop(): Promise<void> {
    clearInterval(this.#sweep);
    for (const timer of this.#grants.values()) clearTimeout(timer);
    this.#grants.clear();
    await Promise.all(this.#withdrawals);
    await this.#stopFeed?.();
  }

  // ---- statement review ------------------------------------------------------------------------

  /** The gate's reviewer for one session. */
  reviewerFor(principal: Principal, connection: string): Reviewer {
    return (request) => {
      const settings = this.#reviewSettings(request.verdict.policy);
      return settings.mode === 'hold'
        ? this.#hold(principal, connection, request, settings)
        : this.#ticket(principal, connection, request, settings);
    };
  }

  #reviewSettings(policyName: string): ReviewConfig {
    const policy = this.#options.policies.find((p) => p.name === policyName);
    return (
      policy?.review ?? {
        mode: 'hold',
        timeoutMs: 600_000,
        grantWindowMs: 900_000,
        approvers: { groups: [], count: 1 },
      }
    );
  }

  #hold(
    principal: Principal,
    connection: string,
    request: ReviewRequest,
    settings: ReviewConfig,
  ): PendingReview {
    const id = newId('apv');
    const { verdict } = request;
    let settle: (error: ClientFacingError | undefined) => void = () => {};
    const outcome = new Promise<ClientFacingError | undefined>((resolve) => {
      settle = resolve;
    });
    let timer: NodeJS.Timeout | undefined;
    let withdrawn: 'cancel' | 'disconnect' | undefined;
    let recorded = false;
    const finish = (error: ClientFacingError | undefined) => {
      clearTimeout(timer);
      this.#waiters.delete(id);
      settle(error);
    };
    const onRecord: Waiter = (record) => {
      switch (record.status) {
        case 'approved':
          void this.#options.repository.consume(id, this.#now()).then(
            (used) => {
              if (used) this.#options.audit.emit({ type: 'approval.used', requestId: id, mode: 'hold' });
              finish(used ? undefined : notRecorded(verdict.policy));
            },
            () => finish(notRecorded(verdict.policy)),
          );
          break;
        case 'denied':
          finish(deniedError(record));
          break;
        case 'expired':
          finish(timedOut(id, settings.timeoutMs));
          break;
        case 'withdrawn':
        case 'consumed':
        case 'revoked':
          finish(cancelled(id));
          break;
        case 'pending':
          break;
      }
    };
    const record = async () => {
      const approval = await this.#createStatementApproval(
        id,
        'hold',
        principal,
        connection,
        request,
        settings,
      );
      recorded = true;
      if (withdrawn !== undefined) {
        await this.#withdraw(id, withdrawn);
        return;
      }
      this.#waiters.set(id, onRecord);
      timer = setTimeout(() => void this.#expire(id), Math.min(settings.timeoutMs, MAX_TIMER_MS));
      // A decision may have landed between the insert and the waiter: read it once now.
      this.#changed(approval.id);
    };
    record().catch((error: unknown) => {
      this.#options.logger.error({ err: error, requestId: id }, 'approval request could not be recorded');
      finish(notRecorded(verdict.policy));
    });
    return {
      notice: holdNotice(id, request, settings, this.#options.publicUrl, this.#options.adminGroup),
      outcome,
      approvalId: () => id,
      withdraw: (reason) => {
        withdrawn = reason;
        finish(cancelled(id));
        if (!recorded) return;
        const written = this.#withdraw(id, reason).finally(() => this.#withdrawals.delete(written));
        this.#withdrawals.add(written);
      },
    };
  }

  #ticket(
    principal: Principal,
    connection: string,
    request: ReviewRequest,
    settings: ReviewConfig,
  ): PendingReview {
    const { verdict } = request;
    let approvalId: string | undefined;
    const outcome = (async () => {
      const described = this.#describe(principal, connection, request);
      const { hash } = described;
      const now = this.#now();
      const grant = await this.#options.repository.consumeGrant(hash, now);
      if (grant) {
        approvalId = grant.id;
        this.#options.audit.emit({ type: 'approval.used', requestId: grant.id, mode: 'ticket' });
        return undefined;
      }
      // Re-running before the decision points at the open ticket instead of opening another.
      const open = (
        await this.#options.repository.list({
          kind: 'statement',
          status: ['pending'],
          requesterId: principal.id,
          connection,
        })
      ).find((r) => r.kind === 'statement' && r.bindingHash === hash && r.expiresAt > now);
      approvalId =
        open?.id ??
        (
          await this.#createStatementApproval(
            newId('apv'),
            'ticket',
            principal,
            connection,
            request,
            settings,
            described,
          )
        ).id;
      return ticketError(approvalId, request, settings);
    })().catch((error: unknown) => {
      this.#options.logger.error({ err: error }, 'ticket could not be checked or recorded');
      return notRecorded(verdict.policy);
    });
    return { notice: undefined, outcome, approvalId: () => approvalId, withdraw: () => {} };
  }

  async #createStatementApproval(
    id: string,
    mode: 'hold' | 'ticket',
    principal: Principal,
    connection: string,
    request: ReviewRequest,
    settings: ReviewConfig,
    { view, hash }: Described = this.#describe(principal, connection, request),
  ): Promise<StatementApprovalRecord> {
    const rowEstimate = request.estimateRows
      ? await this.#options.estimateRows(connection, request.sql, request.parameters)
      : null;
    const created = await this.#options.repository.createStatement({
      id,
      kind: 'statement',
      mode,
      requester: principalRecord(principal),
      connection,
      policy: request.verdict.policy,
      rule: request.verdict.rule,
      reason: request.verdict.reason,
      statement: view.display,
      parameters: view.parameters,
      redactedStatement: view.redacted,
      rowEstimate,
      bindingHash: hash,
      ...this.#approverFields(settings.approvers),
      expiresAt: new Date(this.#now().getTime() + settings.timeoutMs),
      replica: this.#options.replica,
    });
    this.#options.audit.emit({
      type: 'approval.requested',
      requestId: id,
      kind: 'statement',
      requester: { id: principal.id, name: principal.name, kind: principal.kind },
      connection,
      policy: created.policy,
      rule: created.rule,
      mode,
      rowEstimate,
    });
    this.#notify('approval.requested', created);
    return created;
  }

  /** What approvers see, and the hash an approval is bound to; computed once per review. */
  #describe(principal: Principal, connection: string, request: ReviewRequest): Described {
    const view = viewStatement(request.sql, request.parameters, this.#options.scanner);
    const hash = bindingHash({
      principalId: principal.id,
      connection,
      normalized: view.normalized,
      parameters: request.parameters,
    });
    return { view, hash };
  }

  #approverFields(rule: ApproverRule) {
    return {
      requiredApprovals: rule.count,
      approverGroups: rule.groups.length > 0 ? rule.groups : [this.#options.adminGroup],
      stepUpMs: rule.stepUpMs ?? null,
    };
  }

  async #withdraw(id: string, reason: 'cancel' | 'disconnect'): Promise<void> {
    const why = reason === 'cancel' ? 'the client cancelled the statement' : 'the client disconnected';
    const closed = await this.#options.repository.close(id, 'withdrawn', why).catch(() => undefined);
    if (closed) {
      this.#options.audit.emit({ type: 'approval.closed', requestId: id, status: 'withdrawn', reason: why });
      this.#notify('approval.withdrawn', closed);
    }
  }

  async #expire(id: string): Promise<void> {
    const repository = this.#options.repository;
    const closed = await repository.close(id, 'expired', 'timed out').catch(() => undefined);
    if (closed) {
      this.#options.audit.emit({
        type: 'approval.closed',
        requestId: id,
        status: 'expired',
        reason: 'timed out',
      });
      this.#notify('approval.expired', closed);
    }
    // Closed here, or decided just before: either way the holder acts on what the store says.
    this.#changed(id);
  }

  /** Pending requests past their deadline that no holder will expire (tickets, access, crashed replicas). */
  async #expireOverdue(): Promise<void> {
    try {
      const now = this.#now();
      const pending = await this.#options.repository.list({ status: ['pending'], limit: 1000 });
      for (const record of pending) {
        if (record.expiresAt <= now && !this.#waiters.has(record.id)) await this.#expire(record.id);
      }
    } catch (error) {
      this.#options.logger.warn({ err: (error as Error).message }, 'approval expiry sweep failed');
    }
  }

  /** The change feed: a request changed state on some replica ('' means "re-read everything"). */
  #changed(id: string): void {
    const ids = id === '' ? [...this.#waiters.keys(), ...this.#grants.keys()] : [id];
    for (const one of ids) {
      if (!this.#waiters.has(one) && !this.#grants.has(one)) continue;
      this.#options.repository.get(one).then(
        (record) => {
          if (record === undefined) return;
          this.#waiters.get(one)?.(record);
          if (record.kind === 'access' && record.status === 'revoked') this.#endGrant(one, 'revoked');
        },
        (error: unknown) =>
          this.#options.logger.warn(
            { err: (error as Error).message, requestId: one },
            'approval re-read failed',
          ),
      );
    }
  }

  // ---- decisions -------------------------------------------------------------------------------

  async list(viewer: Principal, filter: RequestFilter): Promise<ApprovalRequestRecord[]> {
    const records = await this.#options.repository.list(filter);
    return records.filter((record) => this.#mayView(viewer, record));
  }

  async get(viewer: Principal, id: string): Promise<ApprovalRequestRecord> {
    const record = await this.#options.repository.get(id);
    if (record === undefined || !this.#mayView(viewer, record)) {
      throw new ApprovalError('not_found', `sluice: no request ${id}`);
    }
    return record;
  }

  #mayView(viewer: Principal, record: ApprovalRequestRecord): boolean {
    return (
      viewer.groups.includes(this.#options.adminGroup) ||
      record.requester.id === viewer.id ||
      record.approverGroups.some((group) => viewer.groups.includes(group))
    );
  }

  async decide(
    approver: Principal,
    id: string,
    decision: 'approve' | 'deny',
    reason: string,
  ): Promise<ApprovalRequestRecord> {
    const record = await this.get(approver, id);
    const now = this.#now();
    this.#checkApprover(approver, record, decision, now);
    const result = await this.#options.repository.decide(
      id,
      { approverId: approver.id, approverName: approver.name, decision, reason, at: now },
      { now, grantWindowMs: this.#reviewSettings(record.policy).grantWindowMs },
    );
    if (typeof result === 'string') throw decisionRefused(id, result);
    this.#options.audit.emit({
      type: 'approval.decided',
      requestId: id,
      actor: actorOf(approver, 'api'),
      decision,
      reason,
      status: result.status,
    });
    if (result.status !== 'pending') {
      this.#notify(
        `${result.kind === 'statement' ? 'approval' : 'access'}.${result.status}` as NoticeEvent,
        result,
      );
    }
    if (result.kind === 'access' && result.status === 'approved') this.#trackGrant(result);
    // This replica may hold the statement: act now rather than wait for the feed's echo.
    this.#changed(id);
    return result;
  }

  /** @throws ApprovalError forbidden, naming the approver rule that failed. */
  #checkApprover(approver: Principal, record: ApprovalRequestRecord, decision: string, now: Date): void {
    if (!record.approverGroups.some((group) => approver.groups.includes(group))) {
      throw new ApprovalError(
        'forbidden',
        `sluice: deciding ${record.id} needs membership in ${record.approverGroups.join(' or ')}`,
      );
    }
    if (decision === 'approve' && approver.id === record.requester.id) {
      throw new ApprovalError('forbidden', 'sluice: you cannot approve your own request');
    }
    if (record.stepUpMs !== null) {
      const authTime = approver.claims.auth_time;
      const fresh = typeof authTime === 'number' && now.getTime() - authTime * 1000 <= record.stepUpMs;
      if (!fresh) {
        throw new ApprovalError(
          'forbidden',
          `sluice: ${record.id} needs an approver who signed in within the last ${formatDuration(record.stepUpMs)}: sign in to the identity provider again and use the new token (API keys cannot step up)`,
        );
      }
    }
  }

  // ---- access requests -------------------------------------------------------------------------

  async requestAccess(requester: Principal, input: AccessRequestInput): Promise<AccessRequestRecord> {
    const policy = this.#grantPolicy(requester, input);
    const grant = policy.grant;
    if (grant === undefined)
      throw new ApprovalError('invalid', `sluice: "${policy.name}" is not a grant policy`);
    if (input.durationMs <= 0 || input.durationMs > grant.maxDurationMs) {
      throw new ApprovalError(
        'invalid',
        `sluice: duration must be between 1s and ${formatDuration(grant.maxDurationMs)} for policy "${policy.name}"`,
      );
    }
    if (input.breakGlass && !grant.breakGlass) {
      throw new ApprovalError(
        'forbidden',
        `sluice: policy "${policy.name}" does not allow break-glass access`,
      );
    }
    const now = this.#now();
    const created = await this.#options.repository.createAccess({
      id: newId('acc'),
      kind: 'access',
      requester: principalRecord(requester),
      connection: input.connection,
      policy: policy.name,
      reason: input.reason,
      durationMs: input.durationMs,
      breakGlass: input.breakGlass === true,
      approvedNow: input.breakGlass === true,
      ...this.#approverFields(grant.approvers),
      expiresAt: new Date(now.getTime() + ACCESS_REQUEST_TIMEOUT_MS),
    });
    this.#options.audit.emit({
      type: 'approval.requested',
      requestId: created.id,
      kind: 'access',
      requester: { id: requester.id, name: requester.name, kind: requester.kind },
      connection: input.connection,
      policy: policy.name,
      durationMs: input.durationMs,
      breakGlass: created.breakGlass,
    });
    if (created.breakGlass) {
      // An alert, not just a record: someone granted themselves access without review.
      this.#options.logger.warn(
        {
          alert: 'break_glass',
          requestId: created.id,
          principal: requester.id,
          connection: input.connection,
        },
        'break-glass access granted',
      );
      this.#notify('access.break_glass', created);
    } else {
      this.#notify('access.requested', created);
    }
    if (created.status === 'approved') this.#trackGrant(created);
    return created;
  }

  /** The one grant policy that fits the request. @throws ApprovalError invalid */
  #grantPolicy(requester: Principal, input: AccessRequestInput): PolicyConfig {
    const tags = this.#options.connections.get(input.connection);
    if (tags === undefined)
      throw new ApprovalError('invalid', `sluice: unknown connection "${input.connection}"`);
    const fitting = this.#grantPolicies(requester, { name: input.connection, tags }).filter(
      (p) => input.policy === undefined || p.name === input.policy,
    );
    const [only, extra] = fitting;
    if (only === undefined) {
      throw new ApprovalError(
        'invalid',
        `sluice: no grant policy lets "${requester.name}" request access to "${input.connection}"${input.policy === undefined ? '' : ` under "${input.policy}"`}`,
      );
    }
    if (extra !== undefined) {
      throw new ApprovalError(
        'invalid',
        `sluice: several grant policies fit (${fitting.map((p) => p.name).join(', ')}); choose one with --policy`,
      );
    }
    return only;
  }

  #grantPolicies(principal: Principal, connection: ConnectionRef): PolicyConfig[] {
    return applicablePolicies(
      this.#options.policies.filter((p) => p.grant !== undefined),
      principal,
      connection,
    );
  }

  /**
   * The access grant a new session of this principal runs under, if one is open: its id and its
   * policy, which takes the place of the principal's ordinary policies on the connection.
   */
  async activeGrant(
    principal: Principal,
    connection: ConnectionRef,
  ): Promise<{ readonly id: string; readonly policy: PolicyConfig } | undefined> {
    const candidates = this.#grantPolicies(principal, connection);
    // No grant policy could apply: no store round trip on the common path.
    if (candidates.length === 0) return undefined;
    const active = await this.#options.repository.activeAccess(principal.id, connection.name, this.#now());
    for (const record of active) {
      const policy = candidates.find((p) => p.name === record.policy);
      if (policy === undefined) continue;
      this.#trackGrant(record);
      return { id: record.id, policy };
    }
    return undefined;
  }

  async revoke(actor: Principal, id: string, reason: string): Promise<AccessRequestRecord> {
    const record = await this.get(actor, id);
    const mayRevoke =
      actor.groups.includes(this.#options.adminGroup) ||
      record.approverGroups.some((group) => actor.groups.includes(group));
    if (record.kind !== 'access' || !mayRevoke) {
      throw new ApprovalError('forbidden', `sluice: only approvers and admins can revoke access grant ${id}`);
    }
    const revoked = await this.#options.repository.close(id, 'revoked', reason);
    if (revoked?.kind !== 'access')
      throw new ApprovalError('conflict', `sluice: ${id} is not an active grant`);
    this.#options.audit.emit({
      type: 'approval.closed',
      requestId: id,
      status: 'revoked',
      reason,
      actor: actorOf(actor, 'api'),
    });
    this.#notify('access.revoked', revoked);
    this.#endGrant(id, 'revoked');
    return revoked;
  }

  /** Arms the end of a grant this replica has (or will have) sessions under. */
  #trackGrant(record: AccessRequestRecord): void {
    if (this.#grants.has(record.id) || record.grantEndsAt === null) return;
    const left = record.grantEndsAt.getTime() - this.#now().getTime();
    const timer = setTimeout(
      () => {
        this.#grants.delete(record.id);
        if (left > MAX_TIMER_MS) this.#trackGrant(record);
        else this.#endGrant(record.id, 'expired');
      },
      Math.max(0, Math.min(left, MAX_TIMER_MS)),
    );
    timer.unref();
    this.#grants.set(record.id, timer);
  }

  #endGrant(id: string, reason: 'expired' | 'revoked'): void {
    clearTimeout(this.#grants.get(id));
    this.#grants.delete(id);
    const sessionsClosed = this.#options.grantEnded(id);
    this.#options.audit.emit({ type: 'access.ended', requestId: id, reason, sessionsClosed });
  }

  // ---- notifications ---------------------------------------------------------------------------

  #notify(event: NoticeEvent, record: ApprovalRequestRecord): void {
    const base = this.#options.publicUrl;
    const path = record.kind === 'statement' ? 'approvals' : 'access-requests';
    const cli = record.kind === 'statement' ? 'sluice approvals' : 'sluice access';
    this.#options.notify({
      event,
      id: record.id,
      kind: record.kind,
      requester: { id: record.requester.id, name: record.requester.name, kind: record.requester.kind },
      connection: record.connection,
      policy: record.policy,
      reason: record.reason,
      ...(record.kind === 'statement'
        ? { redactedStatement: record.redactedStatement, rowEstimate: record.rowEstimate }
        : { durationMs: record.durationMs }),
      expiresAt: record.expiresAt.toISOString(),
      links: {
        show: `${base}/api/v1/${path}/${record.id}`,
        approve: `${base}/${path}/${record.id}?decision=approve`,
        deny: `${base}/${path}/${record.id}?decision=deny`,
      },
      cli: { approve: `${cli} approve ${record.id}`, deny: `${cli} deny ${record.id} --reason TEXT` },
    });
  }
}

type NoticeEvent = ApprovalNotice['event'];

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

function holdNotice(
  id: string,
  request: ReviewRequest,
  settings: ReviewConfig,
  publicUrl: string,
  adminGroup: string,
) {
  const groups = settings.approvers.groups.length > 0 ? settings.approvers.groups : [adminGroup];
  const count = settings.approvers.count;
  return {
    message: `sluice: waiting for approval ${id}: policy "${request.verdict.policy}" sends this statement to review (${request.verdict.reason})`,
    detail: `Held for up to ${formatDuration(settings.timeoutMs)} until ${count === 1 ? 'an approver' : `${count} approvers`} in ${groups.join(' or ')} decide${count === 1 ? 's' : ''}: sluice approvals approve ${id}`,
    hint: `Details: sluice approvals show ${id} (or GET ${publicUrl}/api/v1/approvals/${id}). Cancelling the statement withdraws the request.`,
  };
}

function ticketError(id: string, request: ReviewRequest, settings: ReviewConfig): ClientFacingError {
  return new ClientFacingError(
    '42501',
    `sluice: blocked by policy "${request.verdict.policy}": approval required (ticket ${id}): ${request.verdict.reason}`,
    {
      hint: `The ${request.verdict.rule} asks for review. Approval id ${id}. Once an approver runs "sluice approvals approve ${id}", run the identical statement again within ${formatDuration(settings.grantWindowMs)}; the approval is good for one run.`,
    },
  );
}

function deniedError(record: ApprovalRequestRecord): ClientFacingError {
  const denial = record.decisions.find((d) => d.decision === 'deny');
  return new ClientFacingError(
    '42501',
    `sluice: blocked by policy "${record.policy}": ${record.id} was denied by ${denial?.approverName ?? 'an approver'}${denial?.reason ? `: ${denial.reason}` : ''}`,
    { hint: 'The statement was not sent to the database.' },
  );
}

function timedOut(id: string, timeoutMs: number): ClientFacingError {
  return new ClientFacingError(
    '57014',
    `sluice: canceling statement: approval ${id} was not given within ${formatDuration(timeoutMs)}`,
    { hint: 'The statement was not sent to the database; run it again to ask again.' },
  );
}

function cancelled(id: string): ClientFacingError {
  return new ClientFacingError(
    '57014',
    `sluice: canceling statement due to user request; approval ${id} withdrawn`,
  );
}

function notRecorded(policy: string): ClientFacingError {
  return new ClientFacingError(
    '42501',
    `sluice: blocked by policy "${policy}": the statement needs review, but the approval request could not be recorded`,
    {
      hint: 'The statement was not sent to the database. Try again; an operator should check the gateway store.',
    },
  );
}

function decisionRefused(id: string, refusal: string): ApprovalError {
  switch (refusal) {
    case 'not_found':
      return new ApprovalError('not_found', `sluice: no request ${id}`);
    case 'expired':
      return new ApprovalError('conflict', `sluice: ${id} has expired`);
    case 'already_decided':
      return new ApprovalError(
        'conflict',
        `sluice: you have already decided ${id}; another approver is needed`,
      );
    default:
      return new ApprovalError('conflict', `sluice: ${id} is no longer pending`);
  }
}
