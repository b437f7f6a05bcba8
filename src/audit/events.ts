/**
 * @module audit/events
 * The audit events the gateway emits, as one discriminated union, and the one interface they go
 * through. Today the sink is the structured log; the audit milestone adds the hash-chained store
 * and SIEM sinks behind the same interface, so emitters do not change.
 *
 * Events never carry a credential or a secret value: key ids and prefixes, secret names and
 * versions only.
 */
import type { Logger } from '../core/logger.ts';
import type { Principal } from '../identity/principal.ts';

/** Who did it, as recorded: never the credential itself. */
export interface AuditActor {
  readonly id: string;
  readonly name: string;
  readonly kind: Principal['kind'];
  readonly sourceAddress: string;
}

/** A principal as recorded: identity, groups and the claims that identify it, never a credential. */
export interface AuditPrincipal {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly groups: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

/** Where a recorded preview's rows were written when they were too large to keep inline. */
export interface RecordingFileRef {
  /** The chunk file's name in the session's recording directory, e.g. `000001.jsonl`. */
  readonly chunk: string;
  readonly offset: number;
  readonly length: number;
  /** Hex SHA-256 of those bytes: the chain covers the file's content through it. */
  readonly sha256: string;
}

/** A result's first rows, masked as sent: inline, or in a recording file the record points at. */
export type RecordedPreview =
  | {
      readonly columns: readonly string[];
      readonly rows: readonly (readonly (string | null)[])[];
      readonly truncated: boolean;
    }
  | {
      readonly columns: readonly string[];
      readonly rowCount: number;
      readonly truncated: boolean;
      readonly file: RecordingFileRef;
    };

export type AuditEvent =
  | {
      readonly type: 'admin.auth_failed';
      readonly sourceAddress: string;
      readonly reason: 'invalid' | 'not_admin';
    }
  | {
      readonly type: 'key.created';
      readonly actor: AuditActor;
      readonly keyId: string;
      readonly name: string;
      readonly groups: readonly string[];
      readonly expiresAt: string | null;
    }
  | {
      readonly type: 'key.revoked';
      readonly actor: AuditActor;
      readonly keyId: string;
      readonly name: string;
    }
  | {
      readonly type: 'secret.set';
      readonly actor: AuditActor;
      readonly name: string;
      readonly version: number;
    }
  | {
      readonly type: 'secret.rotated';
      readonly actor: AuditActor;
      readonly name: string;
      readonly version: number;
    }
  | {
      /** A statement held or ticketed for review, or an access request (break-glass included). */
      readonly type: 'approval.requested';
      readonly requestId: string;
      readonly kind: 'statement' | 'access';
      readonly requester: { readonly id: string; readonly name: string; readonly kind: string };
      readonly connection: string;
      readonly policy: string;
      /** Statements: the review rule and mode, and the row estimate. */
      readonly rule?: string;
      readonly mode?: 'hold' | 'ticket';
      readonly rowEstimate?: number | null;
      /** Access: how long, and whether self-approved under break-glass. */
      readonly durationMs?: number;
      readonly breakGlass?: boolean;
    }
  | {
      readonly type: 'approval.decided';
      readonly requestId: string;
      readonly actor: AuditActor;
      readonly decision: 'approve' | 'deny';
      readonly reason: string;
      /** The request's status after this decision (pending while more approvals are needed). */
      readonly status: string;
    }
  | {
      /** Left pending (timeout, client cancel or disconnect) or revoked, not by a decision. */
      readonly type: 'approval.closed';
      readonly requestId: string;
      readonly status: 'expired' | 'withdrawn' | 'revoked';
      readonly reason: string;
      readonly actor?: AuditActor;
    }
  | {
      /** An approved statement ran (hold released, or a ticket grant used once). */
      readonly type: 'approval.used';
      readonly requestId: string;
      readonly mode: 'hold' | 'ticket';
    }
  | {
      /** A client logged in and the upstream session is open. */
      readonly type: 'session.opened';
      readonly sessionId: string;
      readonly principal: AuditPrincipal;
      readonly sourceAddress: string;
      readonly connection: string;
      readonly policy: string;
      /** The access grant it runs under, if any. */
      readonly grant: string | null;
      readonly tls: { readonly protocol: string; readonly cipher: string } | null;
    }
  | {
      readonly type: 'session.closed';
      readonly sessionId: string;
      readonly reason: string;
      readonly durationMs: number;
      readonly bytesFromClient: number;
      readonly bytesToClient: number;
      readonly statements: number;
    }
  | {
      /** Written before the statement is forwarded (or refused). */
      readonly type: 'statement.decided';
      readonly sessionId: string;
      readonly principalId: string;
      readonly connection: string;
      /** The statement with every value the DLP detectors find masked; cut at 8 KiB. */
      readonly text: string;
      readonly truncated: boolean;
      readonly kinds: readonly string[];
      readonly decision: 'allow' | 'deny' | 'review' | 'limit';
      readonly policy: string;
      readonly rule: string;
      /** A review's approval request (the hold's, or the ticket opened or used); else null. */
      readonly approvalId: string | null;
    }
  | {
      readonly type: 'statement.completed';
      readonly sessionId: string;
      readonly rows: number;
      readonly bytes: number;
      /** The error's SQLSTATE; null when it completed. */
      readonly sqlstate: string | null;
      readonly durationMs: number;
      /** The first rows as the client received them (masked): the session recording. */
      readonly preview: RecordedPreview | null;
      /**
       * Values masked in its results and messages, by detector (`card`, `email`, …) or
       * `column:NAME` for a column rule; null when masking changed nothing.
       */
      readonly masks: Readonly<Record<string, number>> | null;
    }
  | {
      /** A failed login on the data path (the credential itself is never recorded). */
      readonly type: 'auth.failed';
      readonly protocol: string;
      readonly sourceAddress: string;
    }
  | {
      /**
       * Retention removed records before `anchorSeq` (a signed checkpoint's record, kept so the
       * rest still verifies), and recording files last written before `recordingsBefore`.
       */
      readonly type: 'audit.pruned';
      /** The last removed record, or null when no record was old enough. */
      readonly throughSeq: number | null;
      readonly throughAt: string | null;
      readonly anchorSeq: number | null;
      readonly eventsBefore: string | null;
      readonly recordingsBefore: string | null;
      readonly sessionRecordingsRemoved: number;
    }
  | {
      readonly type: 'access.ended';
      readonly requestId: string;
      readonly reason: 'expired' | 'revoked';
      readonly sessionsClosed: number;
    };

export interface AuditSink {
  emit(event: AuditEvent): void;
}

/** Claims that identify a principal; the rest of a token stays out of records. */
const IDENTIFYING_CLAIMS = ['iss', 'sub', 'email', 'name', 'preferred_username', 'auth_time'] as const;

/** The principal as records show it: identity, groups and identifying claims only. */
export function principalRecord(principal: Principal): AuditPrincipal {
  const claims: Record<string, unknown> = {};
  for (const name of IDENTIFYING_CLAIMS) {
    if (principal.claims[name] !== undefined) claims[name] = principal.claims[name];
  }
  return {
    id: principal.id,
    name: principal.name,
    kind: principal.kind,
    groups: [...principal.groups],
    claims,
  };
}

export function actorOf(principal: Principal, sourceAddress: string): AuditActor {
  return { id: principal.id, name: principal.name, kind: principal.kind, sourceAddress };
}

/** `key.created` for a new API key: who made it and what it grants, never the key. */
export function keyCreatedEvent(
  actor: AuditActor,
  key: {
    readonly id: string;
    readonly name: string;
    readonly groups: readonly string[];
    readonly expiresAt: Date | null;
  },
): AuditEvent {
  return {
    type: 'key.created',
    actor,
    keyId: key.id,
    name: key.name,
    groups: key.groups,
    expiresAt: key.expiresAt?.toISOString() ?? null,
  };
}

/** `key.revoked` for a revoked API key. */
export function keyRevokedEvent(
  actor: AuditActor,
  key: { readonly id: string; readonly name: string },
): AuditEvent {
  return { type: 'key.revoked', actor, keyId: key.id, name: key.name };
}

/**
 * The operator at a terminal running a CLI command against the store directly (not through the
 * admin API, which records the authenticated principal): the OS account is all there is to name.
 */
export function localOperator(username: string): AuditActor {
  return { id: `cli:${username}`, name: username, kind: 'human', sourceAddress: 'local' };
}

/**
 * Appends one event to the store's chain at once, for a process without a running audit sink (a
 * CLI command). A signed checkpoint covers it once a gateway next signs the head.
 */
export async function recordNow(
  log: { append(items: readonly { at: string; type: string; event: unknown }[]): Promise<unknown> },
  event: AuditEvent,
): Promise<void> {
  await log.append([{ at: new Date().toISOString(), type: event.type, event }]);
}

/**
 * Writes each event as one structured log line (`audit: true`) beside the store's chained log.
 * Per-statement events go at debug level: at info they would double the cost of every statement
 * for a copy the store already keeps.
 */
export function logAuditSink(logger: Logger): AuditSink {
  return {
    emit(event) {
      const level = event.type.startsWith('statement.') ? 'debug' : 'info';
      // Checked first: the line is built for every statement, and debug is usually off.
      if (!logger.isLevelEnabled(level)) return;
      logger[level]({ audit: true, event: { ...event, at: new Date().toISOString() } }, event.type);
    },
  };
}
