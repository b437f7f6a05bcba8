/**
 * @module core/output-batch
 * Collects the frames one incoming chunk produces and writes them with as few views and syscalls
 * as possible. Frames cut from the same chunk are adjacent ranges of one buffer, so forwarding an
 * unmodified run costs one zero-copy write (the original chunk itself when the run covers it);
 * only frames the gateway replaces or inserts break the run.
 */
import type { Writable } from 'node:stream';

export class OutputBatch {
  readonly #parts: Buffer[] = [];
  /** The run being extended: `#runSource[#runStart, #runEnd)`, not yet materialised. */
  #runSource: Buffer | undefined;
  #runStart = 0;
  #runEnd = 0;

  /** Queues `source[start, end)`; extends the current run when it continues it. */
  addRange(source: Buffer, start: number, end: number): void {
    if (source === this.#runSource && start === this.#runEnd) {
      this.#runEnd = end;
      return;
    }
    this.#closeRun();
    this.#runSource = source;
    this.#runStart = start;
    this.#runEnd = end;
  }

  /** Queues bytes the gateway made itself (its own messages, rewritten frames). */
  add(bytes: Buffer): void {
    this.addRange(bytes, 0, bytes.length);
  }

  get isEmpty(): boolean {
    return this.#runSource === undefined && this.#parts.length === 0;
  }

  /** Writes and clears everything queued; returns false when the destination asks us to wait. */
  writeTo(destination: Writable): boolean {
    this.#closeRun();
    const parts = this.#parts;
    if (parts.length === 0) return true;
    if (parts.length === 1) {
      const only = parts[0] as Buffer;
      parts.length = 0;
      return destination.write(only);
    }
    destination.cork();
    let writable = true;
    for (const part of parts) writable = destination.write(part);
    parts.length = 0;
    destination.uncork();
    return writable;
  }

  #closeRun(): void {
    const source = this.#runSource;
    if (source === undefined) return;
    const whole = this.#runStart === 0 && this.#runEnd === source.length;
    this.#parts.push(whole ? source : source.subarray(this.#runStart, this.#runEnd));
    this.#runSource = undefined;
  }
}
