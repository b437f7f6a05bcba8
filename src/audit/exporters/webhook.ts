/**
 * @module audit/exporters/webhook
 * POSTs audit records in batches to an HTTPS receiver as `{"records": [ECS…]}`, signed with the
 * same HMAC headers as approval webhooks (`x-sluice-timestamp`, `x-sluice-signature`; see
 * approvals/notify), with `idempotency-key: <first seq>-<last seq>`.
 *
 * A batch goes out when `batchSize` records are waiting, or `flushMs` after the first one. One
 * request is in flight at a time and a failed batch is retried, unchanged, before anything after
 * it, so records arrive in seq order and, within a process lifetime, each is sent until exactly
 * one 2xx answers it. Network errors, timeouts, 429 and 5xx are retried with exponential backoff,
 * for as long as the process runs. So are other statuses (4xx, 3xx: redirects are not followed, as
 * they could carry the body to a host nobody configured): an audit trail must not silently lose
 * records, so these are logged as errors and retried until an operator fixes the receiver.
 *
 * Spool: every record handed to `deliver` is first appended to `<spoolDir>/webhook-spool.jsonl`
 * (ChainedEvent JSON lines, owner-only), and each delivered batch appends a marker line
 * `{"deliveredThrough": seq}`. A new exporter on the same directory (a restart) loads the records
 * after the last marker and delivers them first, in order. The spool is truncated whenever nothing
 * is pending and rewritten when many delivered records accumulate. A crash between a 2xx and its
 * marker redelivers that batch once more with the same idempotency key: receivers dedupe on it (or
 * on `event.sequence`). Records handed over in the instant before a crash, not yet appended, are
 * lost to this exporter (the store still has them). Use one spool directory per exporter.
 *
 * Logs name the receiver by its origin only (a URL's path or query may be a credential), never the
 * secret, and failures by error code or HTTP status.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { appendFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  Backoff,
  errorCode,
  postSignedJson,
  retryableStatus,
  SerialChain,
  settledWithin,
} from '../../core/delivery.ts';
import type { Logger } from '../../core/logger.ts';
import type { ChainedEvent } from '../chain.ts';
import { toEcs } from './ecs.ts';
import type { AuditExporter } from './types.ts';

export interface WebhookExporterOptions {
  readonly url: string;
  /** HMAC-SHA256 key for the signature headers. */
  readonly secret: Buffer;
  /** Directory for the spool file (created 0700 if missing); one per exporter. */
  readonly spoolDir: string;
  readonly logger: Logger;
  /** Records per request at most (default 100). */
  readonly batchSize?: number;
  /** A partial batch is sent this long after its first record arrived (default 1 s). */
  readonly flushMs?: number;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
  /** Retry delays (defaults 500 ms doubling to 60 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How long `close` keeps trying to deliver what is pending (default 5 s); the rest stays spooled. */
  readonly closeTimeoutMs?: number;
}

export const SPOOL_FILE = 'webhook-spool.jsonl';
/** Delivered records left in the spool before it is rewritten without them. */
const COMPACT_AFTER = 10_000;

type Attempt =
  | { readonly ok: true }
  | { readonly ok: false; readonly status?: number; readonly error?: string };

export class WebhookExporter implements AuditExporter {
  readonly #url: string;
  readonly #origin: string;
  readonly #secret: Buffer;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #flushMs: number;
  readonly #timeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #backoff: Backoff;
  readonly #spool: Spool;
  /** Not yet acknowledged, in seq order; the spool holds the same records. */
  #pending: ChainedEvent[];
  /** Highest seq accepted, so a record handed over twice is not sent twice. */
  #highestSeq: number;
  #running: Promise<void> | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  readonly #stop = new AbortController();
  #failures = 0;
  #closing = false;

  /** Loads the spool synchronously: what a previous run left goes out before anything new. */
  constructor(options: WebhookExporterOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new Error('audit webhook: the URL does not parse');
    }
    this.#url = options.url;
    this.#origin = url.origin;
    this.#secret = options.secret;
    this.#logger = options.logger;
    this.#batchSize = options.batchSize ?? 100;
    this.#flushMs = options.flushMs ?? 1000;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#backoff = new Backoff(options.retryMinMs ?? 500, options.retryMaxMs ?? 60_000);
    this.#spool = new Spool(options.spoolDir, options.logger, () => this.#failures++);
    const loaded = this.#spool.load();
    this.#pending = loaded.pending;
    this.#highestSeq = loaded.deliveredThrough;
    for (const record of this.#pending) this.#highestSeq = Math.max(this.#highestSeq, record.seq);
    if (this.#pending.length > 0) {
      this.#logger.info(
        { webhook: this.#origin, spooled: this.#pending.length },
        'audit webhook: delivering spooled records first',
      );
      this.#pump();
    }
  }

  get lag(): number {
    return this.#pending.length;
  }

  get failures(): number {
    return this.#failures;
  }

  deliver(records: readonly ChainedEvent[]): void {
    if (this.#closing) {
      this.#logger.error(
        { webhook: this.#origin, records: records.length },
        'audit webhook: closed; records not sent',
      );
      return;
    }
    const fresh = records.filter((record) => record.seq > this.#highestSeq);
    const last = fresh.at(-1);
    if (last === undefined) return;
    this.#highestSeq = last.seq;
    this.#pending.push(...fresh);
    this.#spool.append(fresh);
    if (this.#pending.length >= this.#batchSize) this.#pump();
    else this.#armFlush();
  }

  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#flushTimer);
    const drain = async () => {
      while (this.#pending.length > 0 && !this.#stop.signal.aborted) {
        this.#pump();
        await this.#running;
      }
    };
    const drained = await settledWithin(drain(), this.#closeTimeoutMs);
    this.#stop.abort();
    await this.#running;
    await this.#spool.idle();
    if (!drained && this.#pending.length > 0) {
      this.#logger.warn(
        { webhook: this.#origin, spooled: this.#pending.length },
        'audit webhook: records left in the spool; delivered after restart',
      );
    }
  }

  #armFlush(): void {
    if (this.#flushTimer !== undefined || this.#running !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#pump();
    }, this.#flushMs);
    this.#flushTimer.unref();
  }

  /** Starts the single sender unless it runs. */
  #pump(): void {
    if (this.#running !== undefined || this.#pending.length === 0) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#running = this.#sendBatches().finally(() => {
      this.#running = undefined;
      if (this.#pending.length > 0 && !this.#stop.signal.aborted) this.#armFlush();
    });
  }

  /** Full batches back to back (a backlog drains at once); a partial one waits for the flush timer. */
  async #sendBatches(): Promise<void> {
    do {
      const batch = this.#pending.slice(0, this.#batchSize);
      if (!(await this.#sendUntilAccepted(batch))) return;
      this.#pending.splice(0, batch.length);
      this.#spool.delivered(batch, this.#pending);
    } while (this.#pending.length >= this.#batchSize || (this.#closing && this.#pending.length > 0));
  }

  /** True once a 2xx answered the batch; false only when the exporter was stopped. */
  async #sendUntilAccepted(batch: readonly ChainedEvent[]): Promise<boolean> {
    const seqs = `${batch[0]?.seq}-${batch.at(-1)?.seq}`;
    const body = JSON.stringify({ records: batch.map(toEcs) });
    for (;;) {
      if (this.#stop.signal.aborted) return false;
      const attempt = await this.#post(seqs, body);
      if (attempt.ok) {
        this.#backoff.reset();
        return true;
      }
      this.#failures++;
      const retryInMs = this.#backoff.next();
      const retryable = attempt.status === undefined || retryableStatus(attempt.status);
      const fields = { webhook: this.#origin, seqs, status: attempt.status, error: attempt.error, retryInMs };
      if (retryable) this.#logger.warn(fields, 'audit webhook: delivery failed; will retry');
      else
        this.#logger.error(
          fields,
          'audit webhook: the receiver refused the batch; retrying until it accepts',
        );
      await delay(retryInMs, undefined, { signal: this.#stop.signal }).catch(() => undefined);
    }
  }

  async #post(seqs: string, body: string): Promise<Attempt> {
    const outcome = await postSignedJson(this.#url, body, {
      secret: this.#secret,
      headers: { 'idempotency-key': seqs },
      timeoutMs: this.#timeoutMs,
      signal: this.#stop.signal,
    });
    if (!('status' in outcome)) return { ok: false, error: outcome.error };
    return outcome.status >= 200 && outcome.status < 300
      ? { ok: true }
      : { ok: false, status: outcome.status };
  }
}

/**
 * The on-disk copy of the pending records. Every write goes through one serial chain, and each
 * write's content is decided when it is queued, so the file always reads back as the records
 * handed over, in order, minus those a marker says were delivered.
 */
class Spool {
  readonly #dir: string;
  readonly #path: string;
  readonly #logger: Logger;
  readonly #onError: () => void;
  readonly #chain = new SerialChain();
  /** Delivered records still in the file: a rewrite drops them. */
  #deliveredInFile = 0;

  constructor(dir: string, logger: Logger, onError: () => void) {
    this.#dir = dir;
    this.#path = join(dir, SPOOL_FILE);
    this.#logger = logger;
    this.#onError = onError;
  }

  /** Undelivered records from a previous run, in seq order, and the highest seq delivered. */
  load(): { pending: ChainedEvent[]; deliveredThrough: number } {
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = readFileSync(this.#path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { pending: [], deliveredThrough: 0 };
      throw error;
    }
    const { records, deliveredThrough } = this.#parse(text);
    const pending: ChainedEvent[] = [];
    for (const record of records) {
      const last = pending.at(-1)?.seq ?? deliveredThrough;
      if (record.seq > last) pending.push(record);
    }
    // Start from a file holding exactly what is pending.
    this.#rewrite(pending);
    return { pending, deliveredThrough };
  }

  #parse(text: string): { records: ChainedEvent[]; deliveredThrough: number } {
    const records: ChainedEvent[] = [];
    let deliveredThrough = 0;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        // Only the last line can be torn, by a crash mid-append; its record was never complete.
        this.#logger.warn('audit webhook: skipped an unreadable spool line');
        continue;
      }
      const entry = value as { deliveredThrough?: unknown; seq?: unknown };
      if (typeof entry.deliveredThrough === 'number')
        deliveredThrough = Math.max(deliveredThrough, entry.deliveredThrough);
      else if (typeof entry.seq === 'number') records.push(value as ChainedEvent);
    }
    return { records, deliveredThrough };
  }

  append(records: readonly ChainedEvent[]): void {
    this.#write(() => appendFile(this.#path, lines(records), { mode: 0o600 }));
  }

  /** After a 2xx for `batch`; `pending` is what is still to send. */
  delivered(batch: readonly ChainedEvent[], pending: readonly ChainedEvent[]): void {
    this.#deliveredInFile += batch.length;
    const through = batch.at(-1)?.seq ?? 0;
    if (pending.length === 0 || this.#deliveredInFile >= COMPACT_AFTER) this.#rewrite(pending);
    else this.#write(() => appendFile(this.#path, `${JSON.stringify({ deliveredThrough: through })}\n`));
  }

  idle(): Promise<void> {
    return this.#chain.idle();
  }

  /** Replaces the file with `pending` (copied now): written aside and renamed, so a crash leaves one or the other. */
  #rewrite(pending: readonly ChainedEvent[]): void {
    const content = lines(pending);
    this.#deliveredInFile = 0;
    const temporary = `${this.#path}.tmp`;
    this.#write(async () => {
      await writeFile(temporary, content, { mode: 0o600 });
      await rename(temporary, this.#path);
    });
  }

  #write(task: () => Promise<void>): void {
    this.#chain.run(task).catch((error: unknown) => {
      this.#onError();
      this.#logger.error(
        { err: errorCode(error) },
        'audit webhook: spool write failed; records are only in memory',
      );
    });
  }
}

function lines(records: readonly ChainedEvent[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}
