/**
 * @module core/bytes/reader
 * A bounds-checked cursor over one decoded frame. Every read is checked against `end` (the frame
 * end), never against the end of the underlying chunk, so a short message can never read into the
 * bytes of the message after it. Reads past `end` throw {@link ProtocolError}; codecs convert that
 * into one `Malformed <Message>` error (see `decodeWith` in the PostgreSQL codec).
 */
import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../errors.ts';

const NUL = 0;
const REPLACEMENT_CHAR = '\uFFFD';

export class ByteReader {
  readonly #buf: Buffer;
  readonly #end: number;
  #pos: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > buf.length || start > end) {
      throw new RangeError(`invalid reader window [${start}, ${end}) over ${buf.length} bytes`);
    }
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  /** Bytes left before the frame end. */
  get remaining(): number {
    return this.#end - this.#pos;
  }

  uint8(): number {
    const at = this.#take(1);
    return this.#buf.readUInt8(at);
  }

  int16(): number {
    const at = this.#take(2);
    return this.#buf.readInt16BE(at);
  }

  uint16(): number {
    const at = this.#take(2);
    return this.#buf.readUInt16BE(at);
  }

  int32(): number {
    const at = this.#take(4);
    return this.#buf.readInt32BE(at);
  }

  uint32(): number {
    const at = this.#take(4);
    return this.#buf.readUInt32BE(at);
  }

  /**
   * A NUL-terminated UTF-8 string; the NUL is consumed. A string with no NUL before the frame end,
   * or one that is not valid UTF-8, is rejected: decoding it lossily would let the gateway inspect
   * different text than the server executes.
   */
  cstring(): string {
    const start = this.#pos;
    // indexOf scans the whole buffer, so search a view when the frame ends before the buffer does.
    const nul =
      this.#end === this.#buf.length
        ? this.#buf.indexOf(NUL, start)
        : this.#buf.subarray(0, this.#end).indexOf(NUL, start);
    if (nul < 0) throw new ProtocolError('unterminated string');
    const text = this.#buf.toString('utf8', start, nul);
    // toString() replaces invalid sequences with U+FFFD, so only then is a strict check needed.
    if (text.includes(REPLACEMENT_CHAR) && !isUtf8(this.#buf.subarray(start, nul))) {
      throw new ProtocolError('invalid UTF-8');
    }
    this.#pos = nul + 1;
    return text;
  }

  /** `n` bytes as a zero-copy view; callers that keep them past the frame's lifetime must copy. */
  bytes(n: number): Buffer {
    if (!Number.isInteger(n) || n < 0) throw new ProtocolError('invalid byte count');
    const at = this.#take(n);
    return this.#buf.subarray(at, at + n);
  }

  /** Everything up to the frame end, as a zero-copy view. */
  rest(): Buffer {
    const at = this.#pos;
    this.#pos = this.#end;
    return this.#buf.subarray(at, this.#end);
  }

  #take(n: number): number {
    const at = this.#pos;
    if (n > this.#end - at) throw new ProtocolError('truncated');
    this.#pos = at + n;
    return at;
  }
}
