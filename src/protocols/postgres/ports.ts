/**
 * @module protocols/postgres/ports
 * The narrow interfaces a PostgreSQL session is given. Protocol code never imports policy, store
 * or audit: the gateway wiring implements these and injects them, so the session stays a
 * protocol engine that can be tested with real clients and small fakes alike.
 */
import type { ClientFacingError } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { ConnectionMetrics } from '../../core/metrics.ts';
import type { FieldRule, ResultPlan } from '../../core/result-plan.ts';
import type { Authenticator, Principal } from '../../identity/principal.ts';
import type { CancelRegistry } from './cancel.ts';
import type { ColumnShape } from './result-shapes.ts';

export type UpstreamTlsMode = 'disable' | 'require' | 'verify-full';

/** Everything needed to open (and cancel on) one upstream PostgreSQL connection. */
export interface UpstreamTarget {
  readonly connectionName: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** Resolved at connect time (never cached), so a rotated secret reaches new connections. */
  readonly password: () => Promise<string | undefined>;
  readonly tls: { readonly mode: UpstreamTlsMode; readonly ca?: Buffer; readonly serverName?: string };
  /** Refuse trust, cleartext and MD5: only a completed SCRAM exchange logs us in. */
  readonly requireScram: boolean;
}

/** A final answer: forward the message, or refuse it. */
export type FinalVerdict =
  | {
      readonly allowed: true;
      /** Column-rule plans, one per statement in order; absent when no column rule applies. */
      readonly plans?: readonly (ResultPlan | undefined)[] | undefined;
    }
  | { readonly allowed: false; readonly error: ClientFacingError };

/** The policy layer's answer for one client message: final, or held for a human decision. */
export type GateVerdict = FinalVerdict | { readonly allowed: 'held'; readonly hold: StatementHold };

/** Text for a NoticeResponse. */
export interface NoticeText {
  readonly message: string;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
}

/**
 * A message waiting for a decision (review). The session forwards nothing from the client
 * meanwhile, and the message itself only once `outcome` allows it.
 */
export interface StatementHold {
  /** Sent to the client at once (hold mode), so a human at psql knows what is happening. */
  readonly notice: NoticeText | undefined;
  /** Never rejects. */
  readonly outcome: Promise<FinalVerdict>;
  /** The client cancelled (outcome then refuses with 57014) or went away. */
  withdraw(reason: 'cancel' | 'disconnect'): void;
}

/**
 * Result caps for a session (the bulk-extraction guard). The session counts; the gateway decides
 * the numbers and keeps the per-principal rate shared across sessions.
 */
export interface ResultLimits {
  readonly rowsPerStatement?: number | undefined;
  readonly rowsPerSession?: number | undefined;
  readonly bytesPerSession?: number | undefined;
  /** Takes `rows` from the principal's per-minute budget; false when that would exceed it. */
  readonly takeRows?: ((rows: number) => boolean) | undefined;
  /** The refusal to send when a limit is hit (53400, naming the limit and the policy). */
  exceeded(
    limit: 'rowsPerStatement' | 'rowsPerSession' | 'bytesPerSession' | 'rowsPerMinute',
  ): ClientFacingError;
}

/**
 * Masks what flows back to the client (DLP). The session finds the values and free text in every
 * server message and rebuilds frames; the masker decides what a value may show.
 */
export interface ResultMasker {
  /**
   * One value (`bytes[start, end)`), of the given column shape when known. Returns undefined when
   * it may pass unchanged, null to send SQL NULL instead, or the replacement bytes.
   */
  value(
    bytes: Buffer,
    start: number,
    end: number,
    shape: ColumnShape | undefined,
    rule?: FieldRule,
  ): Buffer | null | undefined;
  /** Free text (error and notice fields, notification payloads, COPY lines); undefined: unchanged. */
  text(text: string): string | undefined;
  /**
   * A result ended (CommandComplete, an error, and friends): what the masker changed since the
   * last call, by detector (or `column:NAME` for a column rule); undefined when nothing.
   */
  resultEnded(): MaskCounts | undefined;
}

/** Values masked, by detector name (`card`, `email`, …) or `column:NAME` for a column rule. */
export type MaskCounts = Readonly<Record<string, number>>;

/**
 * Judges every statement before it reaches the server, for one session. It follows the server's
 * statement lifecycle (named and unnamed statements, SQL-level PREPARE/EXECUTE and cursors), so
 * the session reports each message that creates or drops one.
 */
export interface StatementGate {
  /** A simple-protocol Query: every statement in it is judged; any refusal refuses the whole. */
  query(sql: string): GateVerdict;
  /** A Parse message; `name` '' is the unnamed statement, which a later Parse replaces. */
  parse(name: string, sql: string): FinalVerdict;
  /** A Close of a prepared statement was forwarded. */
  closeStatement(name: string): void;
  /**
   * A Bind was forwarded. Statements that need review are held at Execute with their parameters,
   * so the gate keeps what each portal would run. The buffers are views of the frame: copy them.
   */
  bind(
    portal: string,
    statement: string,
    parameters: readonly (Buffer | null)[],
    formats: readonly number[],
  ): void;
  /** An Execute: allowed unless its portal runs a statement that needs review. */
  execute(portal: string): GateVerdict;
  /** How many rows of each result the session keeps for the recording (0: none). */
  readonly previewRows: number;
  /** The relay started: the session is open (for the audit trail). */
  opened(): void;
  /** A forwarded statement ended (CommandComplete, EmptyQueryResponse, PortalSuspended or an error). */
  completed(outcome: StatementOutcome): void;
  /** The session ended. */
  closed(summary: SessionSummary): void;
  /** A FunctionCall message: a function called by OID, with no SQL to judge. */
  functionCall(): FinalVerdict;
  /** The server reported rows changed (from the CommandComplete tag of INSERT, UPDATE, …). */
  affected(command: string, rows: number): void;
  /** Undefined when no policy of the session sets a limit. */
  readonly limits: ResultLimits | undefined;
  /** Undefined when every policy of the session opted out of masking. */
  readonly masker: ResultMasker | undefined;
}

/** How one forwarded statement ended, as the client saw it. */
export interface StatementOutcome {
  readonly rows: number;
  readonly bytes: number;
  /** The error's SQLSTATE; undefined when it completed. */
  readonly sqlstate: string | undefined;
  readonly durationMs: number;
  /** The first rows exactly as the client received them (masked), when the gate asked for them. */
  readonly preview: ResultPreview | undefined;
  /** What masking changed in this statement's results and messages; undefined when nothing. */
  readonly masks: MaskCounts | undefined;
}

/** The first rows of a result, as text ('<binary N bytes>' for values that are not text). */
export interface ResultPreview {
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | null)[])[];
  /** More rows followed than were kept. */
  readonly truncated: boolean;
}

export interface SessionSummary {
  readonly reason: string;
  readonly durationMs: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly statements: number;
}

/** The client end of a session, as the policy layer records it. */
export interface SessionContext {
  readonly id: string;
  readonly sourceAddress: string;
  /** Negotiated TLS, or undefined for a plaintext (loopback) listener. */
  readonly tls: { readonly protocol: string; readonly cipher: string } | undefined;
}

/** The gateway's answer to "may this principal use that connection?". */
export type ConnectionDecision =
  | {
      readonly allowed: true;
      readonly target: UpstreamTarget;
      readonly policy: string;
      readonly gate: StatementGate;
      /** The access grant the session runs under; the session is closed when the grant ends. */
      readonly grant?: string | undefined;
    }
  | { readonly allowed: false; readonly error: ClientFacingError };

/**
 * Brute-force defence, keyed by what the gateway decides (source address, credential prefix);
 * the session only reports outcomes and waits as told.
 */
export interface AuthFailureGate {
  /** Records a failed login; returns how long to hold back the failure answer (ms). */
  failed(sourceAddress: string, credential: string): number;
  succeeded(credential: string): void;
}

/**
 * Upstream login outcomes, per connection, so the gateway can alert on a database it cannot reach
 * and clear the alert once a login succeeds again. Called on every login: keep it cheap.
 */
export interface UpstreamHealth {
  /** `failure` is the class of the failure (`unreachable`, `tls`, `auth_rejected`…), never a message. */
  failed(connectionName: string, failure: string): void;
  connected(connectionName: string): void;
}

export interface PostgresSessionPorts {
  readonly authenticator: Authenticator;
  readonly authFailures: AuthFailureGate;
  /** Unknown connection → 3D000; no policy grants it → 42501. */
  authorize(
    principal: Principal,
    connectionName: string,
    session: SessionContext,
  ): Promise<ConnectionDecision>;
  readonly metrics: ConnectionMetrics;
  readonly logger: Logger;
  readonly cancels: CancelRegistry;
  readonly upstreamHealth?: UpstreamHealth | undefined;
}

export interface SessionTimeouts {
  /** From accept to ReadyForQuery, covering TLS, startup, credential check and upstream login. */
  readonly authMs: number;
  /** Idle outside a transaction; 0 disables. */
  readonly idleMs: number;
  /** Idle inside a transaction (locks held); 0 disables. */
  readonly idleInTransactionMs: number;
  /** A message that started arriving must be complete within this time. */
  readonly messageAssemblyMs: number;
}

export interface SessionLimits {
  readonly maxQueryBytes: number;
  readonly maxMessageBytes: number;
}
