/**
 * @module gateway/session-recorder
 * The audit trail of one PostgreSQL session: opened and closed, each statement's decision (before
 * it is forwarded) and how it ended. Statement text is recorded with every value the DLP detectors
 * find masked (a WHERE clause holding a card number is masked in the log too) and cut at 8 KiB;
 * result previews are scanned again, so even a session with masking off records no raw value.
 * Only then is a preview placed: inline in its record, or, past `audit.recordings.inlineMaxBytes`,
 * in a recording file the record references by hash.
 *
 * `audit.failMode: closed` (the default, per policy; the strictest applies): while the audit
 * pipeline cannot write, statements are refused and nothing is forwarded.
 */
import { type AuditSink, principalRecord } from '../audit/events.ts';
import type { PreviewPlacement } from '../audit/recording-files.ts';
import { ClientFacingError } from '../core/errors.ts';
import { maskText, type TextScanner } from '../dlp/index.ts';
import type { Principal } from '../identity/principal.ts';
import type { ResultPreview, SessionContext } from '../protocols/postgres/ports.ts';
import type { SessionRecorder } from './statement-gate.ts';

const MAX_TEXT = 8192;

export interface SessionRecorderOptions {
  readonly audit: AuditSink;
  readonly scanner: TextScanner;
  readonly principal: Principal;
  readonly connection: string;
  readonly policy: string;
  readonly grant: string | undefined;
  readonly session: SessionContext;
  /** True while the audit pipeline cannot write (its queue is stuck behind failed appends). */
  readonly pipelineStuck: () => boolean;
  readonly failClosed: boolean;
  /** False: only the session's opening and closing are recorded, not each statement. */
  readonly statements: boolean;
  /** Rows of each result kept (masked, as sent) in the statement's record; 0: none. */
  readonly previewRows: number;
  /** Where a masked preview goes: inline in its record, or a recording file past a size. */
  readonly previews: PreviewPlacement;
}

const UNAVAILABLE = new ClientFacingError(
  '57P03',
  'sluice: the audit log cannot be written, so statements are refused (audit.failMode: closed)',
  {
    hint: 'Nothing was sent to the database. Try again shortly; an operator should check the gateway store.',
  },
);

/** The text as it may be recorded: detected values masked, length capped. */
function recordedText(sql: string, scanner: TextScanner): { text: string; truncated: boolean } {
  const truncated = sql.length > MAX_TEXT;
  const cut = truncated ? sql.slice(0, MAX_TEXT) : sql;
  // A finding whose masker is `null` leaves nothing to show: the whole text is withheld.
  return { text: maskText(scanner, cut, '[statement withheld: it holds sensitive values]'), truncated };
}

/**
 * The preview with every cell scanned again: a session whose policies turn masking off still
 * must not put raw values into the recording (what the client saw is not what the log may keep).
 */
function maskedPreview(preview: ResultPreview, scanner: TextScanner): ResultPreview {
  return {
    ...preview,
    rows: preview.rows.map((row) => row.map((value) => (value === null ? null : maskText(scanner, value)))),
  };
}

export function sessionRecorder(options: SessionRecorderOptions): SessionRecorder {
  const { audit, session } = options;
  const sessionId = session.id;
  return {
    previewRows: options.statements ? options.previewRows : 0,
    unavailable: () => (options.failClosed && options.pipelineStuck() ? UNAVAILABLE : undefined),
    opened() {
      audit.emit({
        type: 'session.opened',
        sessionId,
        principal: principalRecord(options.principal),
        sourceAddress: session.sourceAddress,
        connection: options.connection,
        policy: options.policy,
        grant: options.grant ?? null,
        tls: session.tls ?? null,
      });
    },
    decided(decision) {
      if (!options.statements) return;
      audit.emit({
        type: 'statement.decided',
        sessionId,
        principalId: options.principal.id,
        connection: options.connection,
        ...recordedText(decision.sql, options.scanner),
        kinds: decision.kinds,
        decision: decision.decision,
        policy: decision.policy,
        rule: decision.rule,
        approvalId: decision.approvalId,
      });
    },
    completed(outcome) {
      if (!options.statements) return;
      audit.emit({
        type: 'statement.completed',
        sessionId,
        rows: outcome.rows,
        bytes: outcome.bytes,
        sqlstate: outcome.sqlstate ?? null,
        durationMs: outcome.durationMs,
        preview: outcome.preview
          ? options.previews.place(sessionId, maskedPreview(outcome.preview, options.scanner))
          : null,
        masks: outcome.masks ?? null,
      });
    },
    closed(summary) {
      options.previews.ended(sessionId);
      audit.emit({ type: 'session.closed', sessionId, ...summary });
    },
  };
}
