/**
 * @module audit/exporters/types
 * The contract every SIEM export sink meets. Exporters receive records after they were appended to
 * the hash chain, so each record's `seq` is unique and increasing: it is the idempotency key a
 * receiver deduplicates on wherever delivery is at-least-once.
 */
import type { ChainedEvent } from '../chain.ts';

export interface AuditExporter {
  /**
   * Queues records (in seq order) for delivery. Never throws and never blocks the caller: the
   * audit pipeline must not stall on a slow or unreachable SIEM.
   */
  deliver(records: readonly ChainedEvent[]): void;
  /** Records handed to `deliver` and not yet delivered. */
  readonly lag: number;
  /** Failed delivery attempts so far (writes, connections, requests). */
  readonly failures: number;
  /** Stops accepting records and waits, bounded, for what is queued or in flight. */
  close(): Promise<void>;
}
