/**
 * @module audit/retention
 * `audit.retention`: removes audit records older than `events` and session recording files older
 * than `recordings`, at startup and then hourly. Records go only up to a signed checkpoint (see
 * `AuditRepository#prune`), so what is left still verifies; each pass that removes anything is
 * itself recorded, as an `audit.pruned` event in the chain.
 */
import type { Logger } from '../core/logger.ts';
import type { PrunedRange } from '../store/store.ts';
import type { AuditSink } from './events.ts';
import { pruneRecordingFiles } from './recording-files.ts';

/** The part of the store's audit repository retention needs. */
export interface AuditPruner {
  prune(before: string): Promise<PrunedRange | undefined>;
}

export interface RetentionOptions {
  readonly log: AuditPruner;
  readonly audit: AuditSink;
  readonly recordingsDir: string;
  /** Absent: records are kept forever. */
  readonly eventsMs?: number | undefined;
  /** Absent: recording files are kept forever. */
  readonly recordingsMs?: number | undefined;
  readonly logger: Logger;
}

const HOUR_MS = 3_600_000;

/** One retention pass as of `now`. */
export async function applyRetention(options: RetentionOptions, now: Date): Promise<void> {
  const eventsBefore = cutoff(now, options.eventsMs);
  const recordingsBefore = cutoff(now, options.recordingsMs);
  const pruned = eventsBefore === undefined ? undefined : await options.log.prune(eventsBefore.toISOString());
  const sessionRecordingsRemoved =
    recordingsBefore === undefined ? 0 : await pruneRecordingFiles(options.recordingsDir, recordingsBefore);
  if (pruned === undefined && sessionRecordingsRemoved === 0) return;
  options.audit.emit({
    type: 'audit.pruned',
    throughSeq: pruned?.throughSeq ?? null,
    throughAt: pruned?.throughAt ?? null,
    anchorSeq: pruned?.anchorSeq ?? null,
    eventsBefore: eventsBefore?.toISOString() ?? null,
    recordingsBefore: recordingsBefore?.toISOString() ?? null,
    sessionRecordingsRemoved,
  });
}

function cutoff(now: Date, keepMs: number | undefined): Date | undefined {
  return keepMs === undefined ? undefined : new Date(now.getTime() - keepMs);
}

/**
 * Runs a pass now and then every `everyMs` (default hourly) without keeping the process alive.
 * The returned stop waits for a pass in progress, so the store is not closed under it.
 */
export function startRetention(options: RetentionOptions, everyMs = HOUR_MS): () => Promise<void> {
  let running: Promise<void> | undefined;
  const pass = () => {
    running ??= applyRetention(options, new Date())
      .catch((error: unknown) =>
        options.logger.warn({ err: (error as Error).message }, 'audit retention failed; will retry'),
      )
      .finally(() => {
        running = undefined;
      });
  };
  pass();
  const timer = setInterval(pass, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
