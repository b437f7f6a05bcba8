/**
 * @module core/output-batch
 * Collects the frames one incoming chunk produces and writes them with as few syscalls as
 * possible. Frames cut from the same chunk are adjacent views of one buffer, so forwarding an
 * unmodified run costs one zero-copy write; only frames the gateway rewrites break the run.
 */
import type { Writable } from 'node:stream';

export class OutputBatch {
  #parts: Buffer[] = [];

  add(bytes: Buffer): void {
    const last = this.#parts.at(-1);
    if (last && last.buffer === bytes.buffer && last.byteOffset + last.length === bytes.byteOffset) {
      this.#parts[this.#parts.length - 1] = Buffer.from(
        last.buffer,
        last.byteOffset,
        last.length + bytes.length,
      );
    } else {
      this.#parts.push(bytes);
    }
  }

  get isEmpty(): boolean {
    return this.#parts.length === 0;
  }

  /** Writes and clears everything queued; returns false when the destination asks us to wait. */
  writeTo(destination: Writable): boolean {
    const parts = this.#parts;
    if (parts.length === 0) return true;
    this.#parts = [];
    if (parts.length === 1) return destination.write(parts[0]);
    destination.cork();
    let writable = true;
    for (const part of parts) writable = destination.write(part);
    destination.uncork();
    return writable;
  }
}
