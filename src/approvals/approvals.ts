/**
 * @module approvals/approvals
 * What the admin API and the CLI ask of the approval workflow. The gateway's implementation
 * (src/gateway/approval-service.ts) holds statements on live sessions, checks approver rules and
 * emits audit events; the routes only translate HTTP to these calls and {@link ApprovalError}s
 * to status codes.
 */
import type { Principal } from '../identity/principal.ts';
import type {
  AccessRequestRecord,
  ApprovalRequestRecord,
  RequestFilter,
  StatementApprovalRecord,
} from '../store/store.ts';

/** not_found → 404, forbidden → 403, conflict → 409 (not pending, expired, already decided), invalid → 400. */
export type ApprovalErrorCode = 'not_found' | 'forbidden' | 'conflict' | 'invalid';

export class ApprovalError extends Error {
  readonly code: ApprovalErrorCode;
  constructor(code: ApprovalErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'ApprovalError';
  }
}

export interface AccessRequestInput {
  readonly connection: string;
  readonly durationMs: number;
  readonly reason: string;
  /** The grant policy to ask for; needed only when several grant policies would fit. */
  readonly policy?: string | undefined;
  /** Self-approve under the policy's break-glass setting (flagged and alerted). */
  readonly breakGlass?: boolean | undefined;
}

export interface Approvals {
  /**
   * Requests the viewer may see: its own, those it may approve, and every one for members of the
   * admin group. Newest first.
   */
  list(viewer: Principal, filter: RequestFilter): Promise<ApprovalRequestRecord[]>;
  /** @throws ApprovalError not_found (also when the viewer may not see it). */
  get(viewer: Principal, id: string): Promise<ApprovalRequestRecord>;
  /**
   * Records the approver's decision. Checks the approver rule: group, no self-approval, step-up,
   * distinct approvers. Returns the request as it stands afterwards.
   * @throws ApprovalError not_found, forbidden (with the rule that failed), conflict.
   */
  decide(
    approver: Principal,
    id: string,
    decision: 'approve' | 'deny',
    reason: string,
  ): Promise<ApprovalRequestRecord>;
  /** @throws ApprovalError invalid (no grant policy fits, duration over its maximum…), forbidden. */
  requestAccess(requester: Principal, input: AccessRequestInput): Promise<AccessRequestRecord>;
  /** Ends an approved access grant early (its sessions are closed). Approvers and admins only. */
  revoke(actor: Principal, id: string, reason: string): Promise<AccessRequestRecord>;
}

export type { AccessRequestRecord, ApprovalRequestRecord, StatementApprovalRecord };
