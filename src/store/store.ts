/**
 * @module store/store
 * The gateway's own state: API keys, vault secrets, approvals and grants, the audit log. One
 * interface, two backends: embedded PGlite for a single process and PostgreSQL for replicas
 * sharing one store.
 * Both run the same SQL (see `sql-store.ts`), so a behaviour seen in one is the behaviour of both.
 */
import type { ChainedEvent, Checkpoint } from '../audit/chain.ts';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The first characters of the key, for display and per-prefix backoff; not a secret. */
  prefix: string;
  /** SHA-256 hex of the full key; the key itself is never stored. */
  hash: string;
  groups: string[];
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface NewApiKey {
  id: string;
  name: string;
  prefix: string;
  hash: string;
  groups: string[];
  expiresAt: Date | null;
}

export interface ApiKeyRepository {
  /** Fails with GW_ERR_STORE when a non-revoked key already has this name. */
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  findByHash(hash: string): Promise<ApiKeyRecord | undefined>;
  findById(id: string): Promise<ApiKeyRecord | undefined>;
  /** Every key, revoked and expired included, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /**
   * Revokes the key with this id, or else the non-revoked key with this name. Revoking an already
   * revoked key by id keeps its original `revokedAt`. `undefined` when nothing matches.
   */
  revoke(idOrName: string): Promise<ApiKeyRecord | undefined>;
  /** Records a use; never moves `lastUsedAt` backwards. Best effort: callers need not await it. */
  touch(id: string, at: Date): Promise<void>;
}

/** One encrypted version of a vault secret (see src/vault); never holds a plaintext value. */
export interface SecretVersionRecord {
  name: string;
  /** 1, 2, …; the highest is the current value, older ones are kept for audit. */
  version: number;
  /** Id of the master key that wrapped `wrappedKey`. */
  keyId: string;
  /** The version's data key, AES-256-GCM-encrypted under the master key (ciphertext + tag). */
  wrappedKey: Buffer;
  keyNonce: Buffer;
  valueNonce: Buffer;
  /** The value, AES-256-GCM-encrypted under the data key (ciphertext + tag). */
  ciphertext: Buffer;
  createdAt: Date;
}

export type NewSecretVersion = Omit<SecretVersionRecord, 'createdAt'>;

/** A known value encrypted under the master key when the vault was created; proves a key is the right one. */
export interface VaultCheckRecord {
  keyId: string;
  nonce: Buffer;
  ciphertext: Buffer;
  createdAt: Date;
}

export type NewVaultCheck = Omit<VaultCheckRecord, 'createdAt'>;

export interface SecretSummary {
  name: string;
  versions: number;
  latestVersion: number;
  /** When version 1 was written. */
  createdAt: Date;
  /** When the latest version was written. */
  updatedAt: Date;
  /** The master key id of the latest version. */
  keyId: string;
}

export interface SecretRepository {
  vaultCheck(): Promise<VaultCheckRecord | undefined>;
  /** Stores `check` unless a check record exists; returns whichever record the store holds. */
  initVaultCheck(check: NewVaultCheck): Promise<VaultCheckRecord>;
  /** The highest version of `name`. */
  latest(name: string): Promise<SecretVersionRecord | undefined>;
  /** Every version of `name`, oldest first. */
  versions(name: string): Promise<SecretVersionRecord[]>;
  /** `undefined` when `(name, version)` already exists (a concurrent writer got there first). */
  insert(version: NewSecretVersion): Promise<SecretVersionRecord | undefined>;
  /** One entry per secret, by name. */
  list(): Promise<SecretSummary[]>;
}

/** Where a request for a human decision stands. `approved` access and ticket grants are usable. */
export type RequestStatus =
  | 'pending'
  | 'approved'
  | 'denied'
  | 'expired'
  | 'withdrawn'
  | 'consumed'
  | 'revoked';

/** One approver's answer. */
export interface RequestDecision {
  readonly approverId: string;
  readonly approverName: string;
  readonly decision: 'approve' | 'deny';
  readonly reason: string;
  readonly at: Date;
}

/** Who asked (never the credential): the principal as authenticated, with the claims policy saw. */
export interface Requester {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly groups: readonly string[];
  /** A subset of the verified claims (iss, sub, email…), for the approver's eyes. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Fields shared by statement approvals and access requests. */
interface RequestCommon {
  readonly id: string;
  readonly status: RequestStatus;
  readonly requester: Requester;
  readonly connection: string;
  /** The policy that asked for review (statements) or that the grant gives (access). */
  readonly policy: string;
  /** Why: the review rule's reason, or the caller's justification for access. */
  readonly reason: string;
  /** Approver rule, copied from the policy when the request was made. */
  readonly requiredApprovals: number;
  readonly approverGroups: readonly string[];
  /** Approvers must have authenticated within this many ms (OIDC auth_time); null: no step-up. */
  readonly stepUpMs: number | null;
  readonly decisions: readonly RequestDecision[];
  /** Why it left `pending` other than by decisions (timeout, client cancel, gateway shutdown…). */
  readonly statusReason: string | null;
  readonly createdAt: Date;
  /** While pending: when it times out. */
  readonly expiresAt: Date;
  readonly decidedAt: Date | null;
}

/** A statement held (or ticketed) for review. Never holds a raw literal or parameter value. */
export interface StatementApprovalRecord extends RequestCommon {
  readonly kind: 'statement';
  readonly mode: 'hold' | 'ticket';
  /** The policy rule that asked for review. */
  readonly rule: string;
  /** Canonical (deparsed) SQL, literals DLP-masked, control and bidi characters escaped. */
  readonly statement: string;
  /** Bound parameter values, DLP-masked and escaped, in order ($1, $2…). */
  readonly parameters: readonly string[];
  /** The statement with every literal replaced by a placeholder: the only form notifications carry. */
  readonly redactedStatement: string;
  /** The planner's row estimate for UPDATE/DELETE; null when not estimated. */
  readonly rowEstimate: number | null;
  /** SHA-256 over principal, connection, normalized SQL and parameters: what an approval covers. */
  readonly bindingHash: string;
  /** Ticket mode: an approved grant is usable once, until this time. */
  readonly grantExpiresAt: Date | null;
  readonly consumedAt: Date | null;
  /** The gateway replica holding the statement (hold mode). */
  readonly replica: string;
}

/** A request for time-boxed access to a connection under a `grant` policy. */
export interface AccessRequestRecord extends RequestCommon {
  readonly kind: 'access';
  readonly durationMs: number;
  /** Self-approved under the policy's break-glass setting; flagged and alerted. */
  readonly breakGlass: boolean;
  /** Set on approval: the grant runs from `decidedAt` to this time. */
  readonly grantEndsAt: Date | null;
}

export type NewStatementApproval = Omit<
  StatementApprovalRecord,
  'status' | 'decisions' | 'statusReason' | 'createdAt' | 'decidedAt' | 'grantExpiresAt' | 'consumedAt'
>;

export type NewAccessRequest = Omit<
  AccessRequestRecord,
  'status' | 'decisions' | 'statusReason' | 'createdAt' | 'decidedAt' | 'grantEndsAt'
> & {
  /** Break-glass requests are created already approved (by the requester, flagged). */
  readonly approvedNow?: boolean;
};

export type ApprovalRequestRecord = StatementApprovalRecord | AccessRequestRecord;

/** Why a decision was not recorded. */
export type DecisionRefusal = 'not_found' | 'not_pending' | 'expired' | 'already_decided';

export interface RequestFilter {
  readonly kind?: 'statement' | 'access';
  readonly status?: readonly RequestStatus[];
  readonly requesterId?: string;
  readonly connection?: string;
  /** Newest first; default 100. */
  readonly limit?: number;
}

/**
 * Statement approvals and access requests: one table, one state machine. Every transition is a
 * single atomic statement (or a row-locked transaction), so replicas sharing a PostgreSQL store
 * can race on the same request safely, and every change is announced on the change feed.
 */
export interface ApprovalRepository {
  createStatement(request: NewStatementApproval): Promise<StatementApprovalRecord>;
  createAccess(request: NewAccessRequest): Promise<AccessRequestRecord>;
  get(id: string): Promise<ApprovalRequestRecord | undefined>;
  list(filter: RequestFilter): Promise<ApprovalRequestRecord[]>;
  /**
   * Appends one approver's decision to a pending request that has not expired (at `now`), under a
   * row lock. A deny decides at once (`denied`); enough distinct approvals decide `approved`,
   * setting `grantExpiresAt = now + grantWindowMs` for tickets and `grantEndsAt = now + durationMs`
   * for access. The approver rule itself (groups, self-approval, step-up) is the caller's check.
   */
  decide(
    id: string,
    decision: RequestDecision,
    options: { readonly now: Date; readonly grantWindowMs: number },
  ): Promise<ApprovalRequestRecord | DecisionRefusal>;
  /** pending → expired | withdrawn; approved access → revoked. Undefined when not in a closable state. */
  close(
    id: string,
    status: 'expired' | 'withdrawn' | 'revoked',
    reason: string,
  ): Promise<ApprovalRequestRecord | undefined>;
  /** Hold mode: approved → consumed. False when it was not approved (or already consumed). */
  consume(id: string, now: Date): Promise<boolean>;
  /**
   * Ticket mode: atomically consumes one approved, unconsumed statement grant with this binding
   * hash whose window is still open at `now` (single use across every replica).
   */
  consumeGrant(bindingHash: string, now: Date): Promise<StatementApprovalRecord | undefined>;
  /** Approved access requests of this principal on this connection whose grant is open at `now`. */
  activeAccess(requesterId: string, connection: string, now: Date): Promise<AccessRequestRecord[]>;
  /**
   * Calls `listener` with the id of every request that changes state (create, decide, close,
   * consume), on any replica sharing the store (PostgreSQL LISTEN/NOTIFY; in-process for PGlite),
   * once the change has committed. Resolves once listening, to an unsubscribe function.
   * The empty id `''` means "anything may have changed; re-read what you hold": sent after the
   * PostgreSQL listening connection dropped and reconnected, since changes made meanwhile were
   * not announced. `listener` must not throw.
   */
  onChange(listener: (id: string) => void): Promise<() => Promise<void>>;
}

/** What is appended to the audit log; the repository adds `seq` and the hashes (see `chainNext`). */
export interface NewAuditEvent {
  /** `Date#toISOString` output; stored as this very string, since the hash covers it. */
  readonly at: string;
  /** The event's own `type`, when it has one. */
  readonly type: string;
  /** A plain JSON value; stored as its JSON text, so it reads back deep-equal. */
  readonly event: unknown;
}

/** Selects audit records by seq and time; records come back in seq order. */
export interface AuditRange {
  /** Inclusive. */
  readonly fromSeq?: number;
  /** Inclusive. */
  readonly toSeq?: number;
  /** Only records whose `at` is at or after this ISO time. */
  readonly sinceAt?: string;
  /** At most this many records; default 1000. */
  readonly limit?: number;
}

/** The public half of a checkpoint signing key. */
export interface AuditKey {
  readonly keyId: string;
  /** SPKI PEM. */
  readonly publicKeyPem: string;
}

/** What a retention pass removed from the audit log (see `AuditRepository#prune`). */
export interface PrunedRange {
  /** The last record removed, and its time. */
  readonly throughSeq: number;
  readonly throughAt: string;
  /** The first record kept: a signed checkpoint's, so the rest verifies from it. */
  readonly anchorSeq: number;
}
/** Which recorded sessions to list (newest first). */
export interface SessionFilter {
  /** A principal id or name. */
  readonly principal?: string | undefined;
  readonly connection?: string | undefined;
  readonly sinceAt?: string | undefined;
  readonly limit?: number | undefined;
}

/**
 * The hash-chained audit log (see src/audit/chain.ts), its signed checkpoints and the public keys
 * that verify them. Records are only ever appended and never updated; the only deletion is
 * retention's `prune`, which removes the oldest records up to a signed checkpoint.
 */
export interface AuditRepository {
  /** `session.opened` records matching the filter, newest first. */
  sessions(filter: SessionFilter): Promise<ChainedEvent[]>;
  /** Every session and statement record of one session, in order: its recording. */
  sessionEvents(sessionId: string): Promise<ChainedEvent[]>;
  /**
   * Appends `items` after the current head, in order, as one transaction; the hashes are linked
   * with `chainNext`. Appends are serialized across every replica sharing the store, so the log
   * stays one gap-free chain. Returns the stored records (`[]` for no items, without touching the
   * store).
   * @throws RangeError from `chainNext` for an item the chain refuses; nothing is appended then.
   */
  append(items: readonly NewAuditEvent[]): Promise<ChainedEvent[]>;
  /** The newest record's seq and hash; undefined while the log is empty. */
  head(): Promise<{ seq: number; hash: string } | undefined>;
  /** One page of records, for streaming verification and export. */
  range(options: AuditRange): Promise<ChainedEvent[]>;
  /** The record just before `seq` (whose hash a range starting at `seq` links to), or undefined. */
  before(seq: number): Promise<ChainedEvent | undefined>;
  /** Keeps the first checkpoint stored for a seq (replicas may sign the same head). */
  addCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** Every checkpoint, by seq. */
  checkpoints(): Promise<Checkpoint[]>;
  /**
   * Removes the records before the newest signed checkpoint whose record is older than `before`
   * (ISO time), and the checkpoints before it; that checkpoint's record is kept as the anchor the
   * remaining log verifies from. Undefined when nothing was old enough.
   */
  prune(before: string): Promise<PrunedRange | undefined>;
  /**
   * Registers a signing key's public half; registering it again is a no-op.
   * @throws GatewayError GW_ERR_STORE when `keyId` is already registered with a different key.
   */
  addKey(keyId: string, publicKeyPem: string): Promise<void>;
  /** Every registered key, oldest first. */
  keys(): Promise<AuditKey[]>;
}

export interface Store {
  readonly apiKeys: ApiKeyRepository;
  /** Encrypted vault rows; use src/vault, which encrypts and decrypts, rather than this directly. */
  readonly secrets: SecretRepository;
  /** Statement approvals and access requests (see src/approvals). */
  readonly approvals: ApprovalRepository;
  /** The tamper-evident audit log (see src/audit). */
  readonly audit: AuditRepository;
  readonly kind: 'pglite' | 'postgres';
  /** Resolves when the store answers a trivial query (readiness probes). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
