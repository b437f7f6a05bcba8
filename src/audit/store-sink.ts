/**
 * @module audit/store-sink
 * Writes audit events to the store's hash-chained log. `emit` never blocks the caller: events are
 * queued with their time and appended in batches (one transaction per batch, chained after the
 * store's head, serialized across replicas by the repository). Every `checkpointEvery` events, and
 * at most `checkpointIntervalMs` after the last new event, the head is signed with the gateway's
 * Ed25519 key, so a rewrite of the chain before a checkpoint is detectable even by someone who can
 * recompute hashes.
 *
 * While the store is unavailable, events wait in the queue (bounded) and the append is retried
 * with backoff; `lag` and `failures` tell operators (metrics, readiness).
 */
import { Backoff } from '../core/delivery.ts';
import type { Logger } from '../core/logger.ts';
import { type ChainedEvent, type Checkpoint, signCheckpoint } from './chain.ts';
import type { AuditEvent, AuditSink } from './events.ts';
import type { AuditExporter } from './exporters/types.ts';
import type { SigningKey } from './signing-key.ts';

/** The part of the store's audit repository the sink needs. */
export interface AuditAppender {
  append(items: readonly { at: string; type: string; event: unknown }[]): Promise<ChainedEvent[]>;
  addCheckpoint(checkpoint: Checkpoint): Promise<void>;
}

export interface StoreAuditSinkOptions {
  readonly log: AuditAppender;
  readonly key: SigningKey;
  readonly logger: Logger;
  /** Sign the head after this many events (default 1000). */
  readonly checkpointEvery?: number;
  /** …or this long after the first event since the last checkpoint (default 60 s). */
  readonly checkpointIntervalMs?: number;
  /** Events held while the store is down; beyond this the oldest are dropped, loudly (default 100,000). */
  readonly maxQueued?: number;
  /** SIEM exporters: each gets every record once it is chained (with its seq and hash). */
  readonly exporters?: readonly AuditExporter[];
}

const BATCH = 2000;
/**
 * Events are gathered this long before an append: one transaction per event would cost more than
 * the statement it records; fifty milliseconds of events cost little more than one.
 */
const GATHER_MS = 50;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;

interface Pending {
  readonly at: string;
  readonly type: string;
  readonly event: AuditEvent;
}

export class StoreAuditSink implements AuditSink {
  readonly #options: Required<Omit<StoreAuditSinkOptions, 'logger' | 'log' | 'key' | 'exporters'>> &
    StoreAuditSinkOptions;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  readonly #backoff = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS);
  /** The wait before the pending retry. */
  #retryInMs = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #checkpointTimer: NodeJS.Timeout | undefined;
  #gatherTimer: NodeJS.Timeout | undefined;
  /** The newest appended record not yet covered by a checkpoint. */
  #unsigned: { head: ChainedEvent; count: number } | undefined;
  #failures = 0;
  #dropped = 0;
  #lastAppendFailed = false;
  #closed = false;
  /** Set when close() stops waiting: flush() stops retrying too, or it would retry forever. */
  #abandoned = false;

  constructor(options: StoreAuditSinkOptions) {
    this.#options = { checkpointEvery: 1000, checkpointIntervalMs: 60_000, maxQueued: 100_000, ...options };
  }

  /** Events waiting to be written. */
  get lag(): number {
    return this.#queue.length;
  }

  /** Failed append attempts so far. */
  get failures(): number {
    return this.#failures;
  }

  /**
   * True while events wait behind a failed append, or while the queue is past half its bound (the
   * store cannot keep up): readiness fails, and `failMode: closed` sheds statements instead of
   * letting the queue overflow and drop events.
   */
  get stuck(): boolean {
    return (
      (this.#lastAppendFailed && this.#queue.length > 0) || this.#queue.length >= this.#options.maxQueued / 2
    );
  }

  /** Events dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  emit(event: AuditEvent): void {
    if (this.#closed) {
      this.#options.logger.error({ type: event.type }, 'audit event after shutdown; not recorded');
      return;
    }
    this.#queue.push({ at: new Date().toISOString(), type: event.type, event });
    if (this.#queue.length > this.#options.maxQueued) {
      this.#queue.shift();
      this.#dropped++;
      this.#options.logger.error(
        { dropped: this.#dropped },
        'audit queue full: the oldest event was dropped',
      );
    }
    if (this.#retryTimer === undefined && this.#writing === undefined && this.#gatherTimer === undefined) {
      this.#gatherTimer = setTimeout(() => {
        this.#gatherTimer = undefined;
        this.#write();
      }, GATHER_MS);
      this.#gatherTimer.unref();
    }
  }

  /** Writes everything queued so far (retrying while the store fails) and signs the head. */
  async flush(): Promise<void> {
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    while (!this.#abandoned && (this.#queue.length > 0 || this.#writing !== undefined)) {
      if (this.#writing === undefined) this.#write();
      await this.#writing;
      if (this.#retryTimer !== undefined) {
        clearTimeout(this.#retryTimer);
        this.#retryTimer = undefined;
        // Unref'd: once close() gives up, this wait must not keep the process alive.
        await new Promise((resolve) => setTimeout(resolve, this.#retryInMs).unref());
      }
    }
    await this.#checkpoint();
  }

  /** Flushes (bounded by `timeoutMs`), signs a final checkpoint and stops. */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#checkpointTimer);
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), timeoutMs).unref(),
    );
    const outcome = await Promise.race([this.flush().then(() => 'done' as const), timeout]);
    clearTimeout(this.#retryTimer);
    this.#abandoned = outcome === 'timeout';
    if (outcome === 'timeout' && this.#queue.length > 0) {
      this.#options.logger.error(
        { lost: this.#queue.length },
        'audit events could not be written before shutdown',
      );
    }
    await Promise.all((this.#options.exporters ?? []).map((exporter) => exporter.close()));
  }

  #write(): void {
    if (this.#writing !== undefined || this.#queue.length === 0) return;
    const batch = this.#queue.slice(0, BATCH);
    this.#writing = this.#options.log
      .append(batch)
      .then(
        async (records) => {
          this.#queue.splice(0, batch.length);
          this.#backoff.reset();
          this.#lastAppendFailed = false;
          await this.#appended(records);
        },
        (error: unknown) => {
          this.#failures++;
          this.#lastAppendFailed = true;
          if (this.#abandoned) return;
          this.#retryInMs = this.#backoff.next();
          this.#options.logger.warn(
            { err: (error as Error).message, queued: this.#queue.length, retryInMs: this.#retryInMs },
            'audit append failed; will retry',
          );
          this.#retryTimer = setTimeout(() => {
            this.#retryTimer = undefined;
            this.#write();
          }, this.#retryInMs);
          this.#retryTimer.unref();
        },
      )
      .finally(() => {
        this.#writing = undefined;
        if (!this.#abandoned && this.#retryTimer === undefined && this.#queue.length > 0) this.#write();
      });
  }

  async #appended(records: readonly ChainedEvent[]): Promise<void> {
    const head = records.at(-1);
    if (head === undefined) return;
    for (const exporter of this.#options.exporters ?? []) exporter.deliver(records);
    const count = (this.#unsigned?.count ?? 0) + records.length;
    this.#unsigned = { head, count };
    if (count >= this.#options.checkpointEvery) {
      await this.#checkpoint();
    } else if (this.#checkpointTimer === undefined && !this.#closed) {
      this.#checkpointTimer = setTimeout(() => {
        this.#checkpointTimer = undefined;
        void this.#checkpoint();
      }, this.#options.checkpointIntervalMs);
      this.#checkpointTimer.unref();
    }
  }

  /** Signs the newest appended record, if any is unsigned. Failures are retried at the next one. */
  async #checkpoint(): Promise<void> {
    const unsigned = this.#unsigned;
    if (unsigned === undefined) return;
    this.#unsigned = undefined;
    clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = undefined;
    const { seq, hash } = unsigned.head;
    try {
      await this.#options.log.addCheckpoint(
        signCheckpoint(this.#options.key.privateKey, { seq, hash, at: new Date().toISOString() }),
      );
    } catch (error) {
      this.#failures++;
      this.#unsigned ??= unsigned;
      this.#options.logger.warn(
        { err: (error as Error).message, seq },
        'audit checkpoint failed; will retry',
      );
    }
  }
}

/** Every event to each sink (the structured log and the store, today). */
export function fanOut(...sinks: readonly AuditSink[]): AuditSink {
  return {
    emit(event) {
      for (const sink of sinks) sink.emit(event);
    },
  };
}
