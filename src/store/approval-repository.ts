/**
 * @module store/approval-repository
 * Statement approvals and access requests in `sluice.approval_requests`, written once against
 * {@link SqlExecutor} for both backends. Each transition is one conditional UPDATE (or, for
 * `decide`, a row-locked transaction), so replicas racing on one request cannot both win; each
 * announces itself with `pg_notify` inside that same SQL, so the notice goes out exactly when the
 * change commits and never for a change that rolled back.
 */
import { GatewayError } from '../core/errors.ts';
import type { Int8, SqlExecutor, SqlQuerier } from './sql-executor.ts';
import type {
  AccessRequestRecord,
  ApprovalRepository,
  ApprovalRequestRecord,
  DecisionRefusal,
  NewAccessRequest,
  NewStatementApproval,
  RequestDecision,
  Requester,
  RequestFilter,
  RequestStatus,
  StatementApprovalRecord,
} from './store.ts';

const CHANNEL = 'sluice_approvals';

/** Appended to every statement that changes a row: the row back, and a notice carrying its id. */
const RETURNING = `RETURNING *, pg_notify('${CHANNEL}', id)`;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/** A decision as stored in the `decisions` jsonb array. */
type StoredDecision = Omit<RequestDecision, 'at'> & { at: string };

interface CommonRow {
  id: string;
  status: RequestStatus;
  requester: Requester;
  connection: string;
  policy: string;
  reason: string;
  required_approvals: number;
  approver_groups: string[];
  step_up_ms: Int8 | null;
  decisions: StoredDecision[];
  status_reason: string | null;
  created_at: Date;
  expires_at: Date;
  decided_at: Date | null;
}

/** The table's CHECK constraints guarantee a kind's own columns are non-null. */
interface StatementRow extends CommonRow {
  kind: 'statement';
  mode: 'hold' | 'ticket';
  rule: string;
  statement: string;
  parameters: string[];
  redacted_statement: string;
  row_estimate: number | null;
  binding_hash: string;
  grant_expires_at: Date | null;
  consumed_at: Date | null;
  replica: string;
}

interface AccessRow extends CommonRow {
  kind: 'access';
  duration_ms: Int8;
  break_glass: boolean;
  grant_ends_at: Date | null;
}

type RequestRow = StatementRow | AccessRow;

function common(row: RequestRow) {
  return {
    id: row.id,
    status: row.status,
    requester: row.requester,
    connection: row.connection,
    policy: row.policy,
    reason: row.reason,
    requiredApprovals: row.required_approvals,
    approverGroups: row.approver_groups,
    stepUpMs: row.step_up_ms === null ? null : Number(row.step_up_ms),
    decisions: row.decisions.map((decision) => ({ ...decision, at: new Date(decision.at) })),
    statusReason: row.status_reason,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    decidedAt: row.decided_at,
  };
}

function toStatement(row: StatementRow): StatementApprovalRecord {
  return {
    ...common(row),
    kind: 'statement',
    mode: row.mode,
    rule: row.rule,
    statement: row.statement,
    parameters: row.parameters,
    redactedStatement: row.redacted_statement,
    rowEstimate: row.row_estimate,
    bindingHash: row.binding_hash,
    grantExpiresAt: row.grant_expires_at,
    consumedAt: row.consumed_at,
    replica: row.replica,
  };
}

function toAccess(row: AccessRow): AccessRequestRecord {
  return {
    ...common(row),
    kind: 'access',
    durationMs: Number(row.duration_ms),
    breakGlass: row.break_glass,
    grantEndsAt: row.grant_ends_at,
  };
}

function toRecord(row: RequestRow): ApprovalRequestRecord {
  return row.kind === 'access' ? toAccess(row) : toStatement(row);
}

/** Columns and placeholders ($1…$9) both kinds insert, in the order of {@link commonParams}. */
const COMMON_COLUMNS =
  'id, requester, connection, policy, reason, required_approvals, approver_groups, step_up_ms, expires_at';
// `::text::jsonb`: both drivers then pass the JSON text through unchanged.
const COMMON_VALUES = '$1, $2::text::jsonb, $3, $4, $5, $6, $7, $8, $9';

function commonParams(request: NewStatementApproval | NewAccessRequest): unknown[] {
  return [
    request.id,
    JSON.stringify(request.requester),
    request.connection,
    request.policy,
    request.reason,
    request.requiredApprovals,
    request.approverGroups,
    request.stepUpMs,
    request.expiresAt,
  ];
}

/** The columns a decision sets; all of them, so one UPDATE serves every outcome. */
interface Outcome {
  readonly status: 'pending' | 'approved' | 'denied';
  readonly decidedAt: Date | null;
  readonly grantExpiresAt: Date | null;
  readonly grantEndsAt: Date | null;
}

/** Where a pending request stands once `decisions` (the new one last) are recorded. */
function outcomeOf(
  request: ApprovalRequestRecord,
  decisions: readonly RequestDecision[],
  now: Date,
  grantWindowMs: number,
): Outcome {
  const undecided: Outcome = { status: 'pending', decidedAt: null, grantExpiresAt: null, grantEndsAt: null };
  if (decisions.at(-1)?.decision === 'deny') return { ...undecided, status: 'denied', decidedAt: now };
  const approvers = new Set(decisions.filter((d) => d.decision === 'approve').map((d) => d.approverId));
  if (approvers.size < request.requiredApprovals) return undecided;
  const after = (ms: number) => new Date(now.getTime() + ms);
  return {
    status: 'approved',
    decidedAt: now,
    grantExpiresAt: request.kind === 'statement' && request.mode === 'ticket' ? after(grantWindowMs) : null,
    grantEndsAt: request.kind === 'access' ? after(request.durationMs) : null,
  };
}

/** The rows each closing status may close. */
const CLOSABLE: Record<'expired' | 'withdrawn' | 'revoked', string> = {
  expired: `status = 'pending'`,
  withdrawn: `status = 'pending'`,
  revoked: `status = 'approved' AND kind = 'access'`,
};

async function one(db: SqlQuerier, sql: string, params: readonly unknown[]): Promise<RequestRow | undefined> {
  const [row] = await db.query<RequestRow>(sql, params);
  return row;
}

/** For statements that cannot come back empty (INSERT, UPDATE of a row locked and checked). */
function required(row: RequestRow | undefined): RequestRow {
  if (!row) throw new GatewayError('GW_ERR_STORE', 'approval request write returned no row');
  return row;
}

function closeRow(
  db: SqlQuerier,
  id: string,
  status: keyof typeof CLOSABLE,
  reason: string,
): Promise<RequestRow | undefined> {
  return one(
    db,
    `UPDATE sluice.approval_requests SET status = $2, status_reason = $3
     WHERE id = $1 AND ${CLOSABLE[status]} ${RETURNING}`,
    [id, status, reason],
  );
}

export class SqlApprovalRepository implements ApprovalRepository {
  readonly #db: SqlExecutor;

  constructor(db: SqlExecutor) {
    this.#db = db;
  }

  async createStatement(request: NewStatementApproval): Promise<StatementApprovalRecord> {
    const row = await one(
      this.#db,
      `INSERT INTO sluice.approval_requests (kind, status, ${COMMON_COLUMNS}, mode, rule, statement,
         parameters, redacted_statement, row_estimate, binding_hash, replica)
       VALUES ('statement', 'pending', ${COMMON_VALUES}, $10, $11, $12, $13::text::jsonb, $14, $15, $16, $17)
       ${RETURNING}`,
      [
        ...commonParams(request),
        request.mode,
        request.rule,
        request.statement,
        JSON.stringify(request.parameters),
        request.redactedStatement,
        request.rowEstimate,
        request.bindingHash,
        request.replica,
      ],
    );
    return toStatement(required(row) as StatementRow);
  }

  /** Break-glass (`approvedNow`) is decided in the INSERT itself, by the requester, at the store's clock. */
  async createAccess(request: NewAccessRequest): Promise<AccessRequestRecord> {
    const row = await one(
      this.#db,
      `INSERT INTO sluice.approval_requests (kind, status, ${COMMON_COLUMNS}, duration_ms, break_glass,
         decided_at, grant_ends_at, decisions)
       VALUES ('access', CASE WHEN $12::boolean THEN 'approved' ELSE 'pending' END, ${COMMON_VALUES},
         $10::bigint, $11,
         CASE WHEN $12 THEN now() END,
         CASE WHEN $12 THEN now() + $10 * interval '1 millisecond' END,
         CASE WHEN $12 THEN jsonb_build_array(jsonb_build_object('approverId', $13::text,
           'approverName', $14::text, 'decision', 'approve', 'reason', $5::text, 'at', now()))
         ELSE '[]' END)
       ${RETURNING}`,
      [
        ...commonParams(request),
        request.durationMs,
        request.breakGlass,
        request.approvedNow === true,
        request.requester.id,
        request.requester.name,
      ],
    );
    return toAccess(required(row) as AccessRow);
  }

  async get(id: string): Promise<ApprovalRequestRecord | undefined> {
    const row = await one(this.#db, 'SELECT * FROM sluice.approval_requests WHERE id = $1', [id]);
    return row && toRecord(row);
  }

  async list(filter: RequestFilter): Promise<ApprovalRequestRecord[]> {
    const limit = Math.min(Math.max(Math.trunc(filter.limit ?? DEFAULT_LIMIT), 0), MAX_LIMIT);
    const rows = await this.#db.query<RequestRow>(
      `SELECT * FROM sluice.approval_requests
       WHERE ($1::text IS NULL OR kind = $1) AND ($2::text[] IS NULL OR status = ANY($2))
         AND ($3::text IS NULL OR requester_id = $3) AND ($4::text IS NULL OR connection = $4)
       ORDER BY created_at DESC, seq DESC LIMIT $5`,
      [
        filter.kind ?? null,
        filter.status ? [...filter.status] : null,
        filter.requesterId ?? null,
        filter.connection ?? null,
        limit,
      ],
    );
    return rows.map(toRecord);
  }

  async decide(
    id: string,
    decision: RequestDecision,
    options: { readonly now: Date; readonly grantWindowMs: number },
  ): Promise<ApprovalRequestRecord | DecisionRefusal> {
    return this.#db.transaction(async (tx) => {
      const row = await one(tx, 'SELECT * FROM sluice.approval_requests WHERE id = $1 FOR UPDATE', [id]);
      if (!row) return 'not_found';
      const request = toRecord(row);
      if (request.status !== 'pending') return 'not_pending';
      if (request.expiresAt <= options.now) {
        // Record what the caller found, so no replica keeps offering a request that cannot be decided.
        await closeRow(tx, id, 'expired', 'timed out');
        return 'expired';
      }
      if (request.decisions.some((d) => d.approverId === decision.approverId)) return 'already_decided';
      const outcome = outcomeOf(
        request,
        [...request.decisions, decision],
        options.now,
        options.grantWindowMs,
      );
      const updated = await one(
        tx,
        `UPDATE sluice.approval_requests
         SET decisions = decisions || $2::text::jsonb, status = $3, decided_at = $4,
             grant_expires_at = $5, grant_ends_at = $6
         WHERE id = $1 ${RETURNING}`,
        [
          id,
          JSON.stringify([decision]),
          outcome.status,
          outcome.decidedAt,
          outcome.grantExpiresAt,
          outcome.grantEndsAt,
        ],
      );
      return toRecord(required(updated));
    });
  }

  async close(
    id: string,
    status: 'expired' | 'withdrawn' | 'revoked',
    reason: string,
  ): Promise<ApprovalRequestRecord | undefined> {
    const row = await closeRow(this.#db, id, status, reason);
    return row && toRecord(row);
  }

  async consume(id: string, now: Date): Promise<boolean> {
    const rows = await this.#db.query(
      `UPDATE sluice.approval_requests SET status = 'consumed', consumed_at = $2
       WHERE id = $1 AND kind = 'statement' AND status = 'approved' ${RETURNING}`,
      [id, now],
    );
    return rows.length > 0;
  }

  /**
   * SKIP LOCKED: a concurrent caller passes over the row another is consuming instead of waiting
   * for it and then finding it consumed, so each caller gets a distinct grant or none.
   */
  async consumeGrant(bindingHash: string, now: Date): Promise<StatementApprovalRecord | undefined> {
    const row = await one(
      this.#db,
      `UPDATE sluice.approval_requests SET status = 'consumed', consumed_at = $2
       WHERE status = 'approved' AND id = (
         SELECT id FROM sluice.approval_requests
         WHERE status = 'approved' AND kind = 'statement' AND mode = 'ticket' AND binding_hash = $1
           AND grant_expires_at > $2 AND consumed_at IS NULL
         ORDER BY created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED)
       ${RETURNING}`,
      [bindingHash, now],
    );
    return row && toStatement(row as StatementRow);
  }

  async activeAccess(requesterId: string, connection: string, now: Date): Promise<AccessRequestRecord[]> {
    const rows = await this.#db.query<AccessRow>(
      `SELECT * FROM sluice.approval_requests
       WHERE requester_id = $1 AND connection = $2 AND kind = 'access' AND status = 'approved'
         AND grant_ends_at > $3
       ORDER BY created_at, seq`,
      [requesterId, connection, now],
    );
    return rows.map(toAccess);
  }

  onChange(listener: (id: string) => void): Promise<() => Promise<void>> {
    return this.#db.listen(CHANNEL, listener);
  }
}
