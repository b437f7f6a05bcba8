/**
 * @module audit/exporters/jsonl-file
 * Appends each audit record as one ECS JSON object per line to a local file, for log shippers
 * (Filebeat, Fluent Bit, Vector) to tail. Rotation is by size: when the next line would take the
 * file past `maxBytes`, `audit.jsonl` becomes `audit.jsonl.1` (older ones shift to `.2` … up to
 * `keep`, the oldest is deleted) and writing continues in a fresh file. Shippers that follow by
 * name (all three above do) pick the new file up.
 *
 * Files are created owner-only (0600): the records name users, addresses and policies. Writes are
 * serialized, so lines never interleave; they are not fsynced (the store holds the authoritative
 * copy). After a failed write (a full disk) the records stay queued and the write is retried with
 * backoff; a write that failed part-way may leave a line twice, so consumers dedupe on
 * `event.sequence`.
 */
import { type FileHandle, open, rename } from 'node:fs/promises';
import { Backoff, errorCode, settledWithin, sleep } from '../../core/delivery.ts';
import type { Logger } from '../../core/logger.ts';
import type { ChainedEvent } from '../chain.ts';
import { toEcs } from './ecs.ts';
import type { AuditExporter } from './types.ts';

export interface JsonlFileExporterOptions {
  /** The live file, e.g. /var/log/sluice/audit.jsonl; rotated files get `.1`, `.2`, … appended. */
  readonly path: string;
  readonly logger: Logger;
  /** Rotate before the file would grow past this many bytes (default 100 MiB). */
  readonly maxBytes?: number;
  /** Rotated files kept besides the live one (default 5); 0 discards the full file instead. */
  readonly keep?: number;
  /** Retry delays after a failed write (defaults 500 ms doubling to 30 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How long `close` waits for queued lines to be written (default 5 s). */
  readonly closeTimeoutMs?: number;
}

/** Records turned into one write at most: bounds the memory of a large backlog. */
const CHUNK_RECORDS = 1000;
const FILE_MODE = 0o600;
/** How often `close` looks again while a retry is scheduled (the backoff is not cut short). */
const RETRY_POLL_MS = 50;

export class JsonlFileExporter implements AuditExporter {
  readonly #path: string;
  readonly #logger: Logger;
  readonly #maxBytes: number;
  readonly #keep: number;
  readonly #closeTimeoutMs: number;
  readonly #backoff: Backoff;
  #queue: ChainedEvent[] = [];
  #file: { handle: FileHandle; size: number } | undefined;
  #writing: Promise<void> | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #closed = false;
  /** Set when `close` gives up: no more writes or retries. */
  #stopped = false;

  constructor(options: JsonlFileExporterOptions) {
    this.#path = options.path;
    this.#logger = options.logger;
    this.#maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
    this.#keep = options.keep ?? 5;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#backoff = new Backoff(options.retryMinMs ?? 500, options.retryMaxMs ?? 30_000);
    if (!(this.#maxBytes > 0) || !Number.isInteger(this.#keep) || this.#keep < 0) {
      throw new RangeError('audit file export: maxBytes must be positive and keep a whole number ≥ 0');
    }
  }

  get lag(): number {
    return this.#queue.length;
  }

  get failures(): number {
    return this.#failures;
  }

  deliver(records: readonly ChainedEvent[]): void {
    if (this.#closed) {
      this.#logger.error({ records: records.length }, 'audit file export: closed; records not written');
      return;
    }
    this.#queue.push(...records);
    this.#pump();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const drained = await settledWithin(this.#drain(), this.#closeTimeoutMs);
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (!drained) {
      this.#logger.error(
        { lost: this.#queue.length },
        'audit file export: records not written before shutdown',
      );
    }
    await this.#writing;
    await this.#file?.handle.close().catch(() => undefined);
    this.#file = undefined;
  }

  async #drain(): Promise<void> {
    while (!this.#stopped && (this.#queue.length > 0 || this.#writing !== undefined)) {
      if (this.#writing !== undefined) await this.#writing;
      else if (this.#retryTimer !== undefined) await sleep(RETRY_POLL_MS);
      else this.#pump();
    }
  }

  /** Starts the single writer unless it runs or waits to retry: one writer means no interleaving. */
  #pump(): void {
    if (this.#stopped || this.#writing !== undefined || this.#retryTimer !== undefined) return;
    if (this.#queue.length === 0) return;
    this.#writing = this.#writeQueued()
      .then(
        () => this.#backoff.reset(),
        (error: unknown) => this.#failed(error),
      )
      .finally(() => {
        this.#writing = undefined;
        this.#pump();
      });
  }

  #failed(error: unknown): void {
    this.#failures++;
    // A broken handle (the file's disk went away) is reopened on the retry.
    void this.#file?.handle.close().catch(() => undefined);
    this.#file = undefined;
    if (this.#stopped) return;
    const delay = this.#backoff.next();
    this.#logger.warn(
      { err: errorCode(error), queued: this.#queue.length, retryInMs: delay },
      'audit file export: write failed; will retry',
    );
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#pump();
    }, delay);
    this.#retryTimer.unref();
  }

  async #writeQueued(): Promise<void> {
    while (this.#queue.length > 0) {
      const lines = this.#queue
        .slice(0, CHUNK_RECORDS)
        .map((record) => Buffer.from(`${JSON.stringify(toEcs(record))}\n`, 'utf8'));
      let pending: Buffer[] = [];
      let bytes = (await this.#openFile()).size;
      for (const line of lines) {
        // A line alone larger than maxBytes still gets written, alone in its file.
        if (bytes > 0 && bytes + line.length > this.#maxBytes) {
          await this.#append(pending);
          pending = [];
          await this.#rotate();
          bytes = 0;
        }
        pending.push(line);
        bytes += line.length;
      }
      await this.#append(pending);
    }
  }

  /** Writes the lines and only then takes their records off the queue. */
  async #append(lines: readonly Buffer[]): Promise<void> {
    if (lines.length === 0) return;
    const file = await this.#openFile();
    const chunk = Buffer.concat(lines);
    await file.handle.write(chunk);
    file.size += chunk.length;
    this.#queue.splice(0, lines.length);
  }

  async #openFile(): Promise<{ handle: FileHandle; size: number }> {
    if (this.#file !== undefined) return this.#file;
    const handle = await open(this.#path, 'a', FILE_MODE);
    try {
      // The mode argument only applies to a new file; an existing one may have been created wider.
      await handle.chmod(FILE_MODE);
      this.#file = { handle, size: (await handle.stat()).size };
      return this.#file;
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** audit.jsonl.(keep-1) → .keep (replacing the oldest), …, .1 → .2, audit.jsonl → .1. */
  async #rotate(): Promise<void> {
    await this.#file?.handle.close();
    this.#file = undefined;
    if (this.#keep === 0) {
      await open(this.#path, 'w', FILE_MODE).then((handle) => handle.close());
      return;
    }
    for (let index = this.#keep - 1; index >= 1; index--) {
      await renameIfExists(`${this.#path}.${index}`, `${this.#path}.${index + 1}`);
    }
    await rename(this.#path, `${this.#path}.1`);
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
