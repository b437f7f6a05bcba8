/**
 * @module core/bytes/writer
 * Builds one wire frame. Space for the header (1-byte tag + int32 length) is reserved up front so
 * `finish()` can back-fill it without copying the body; the buffer grows by doubling.
 */

/** Tag byte + int32 length. Untagged (startup-phase) frames use only the last four bytes. */
const HEADER_SIZE = 5;
const DEFAULT_CAPACITY = 64;

export class ByteWriter {
  #buf: Buffer;
  #pos = HEADER_SIZE;

  /** `capacity` is a hint for the body size; the buffer grows as needed. */
  constructor(capacity = DEFAULT_CAPACITY) {
    this.#buf = Buffer.allocUnsafe(HEADER_SIZE + Math.max(0, Math.floor(capacity)));
  }

  uint8(v: number): this {
    this.#ensure(1);
    this.#pos = this.#buf.writeUInt8(v, this.#pos);
    return this;
  }

  int16(v: number): this {
    this.#ensure(2);
    this.#pos = this.#buf.writeInt16BE(v, this.#pos);
    return this;
  }

  uint16(v: number): this {
    this.#ensure(2);
    this.#pos = this.#buf.writeUInt16BE(v, this.#pos);
    return this;
  }

  int32(v: number): this {
    this.#ensure(4);
    this.#pos = this.#buf.writeInt32BE(v, this.#pos);
    return this;
  }

  uint32(v: number): this {
    this.#ensure(4);
    this.#pos = this.#buf.writeUInt32BE(v, this.#pos);
    return this;
  }

  /**
   * A UTF-8 string plus its NUL terminator. An embedded NUL would end the string early on the
   * receiving side and turn the rest into the next field, so it is refused.
   */
  cstring(s: string): this {
    if (s.includes('\0')) throw new RangeError('string contains a NUL byte');
    this.string(s);
    return this.uint8(0);
  }

  /** A UTF-8 string without a terminator (its length is implied by the frame or a prefix). */
  string(s: string): this {
    const n = Buffer.byteLength(s, 'utf8');
    this.#ensure(n);
    this.#pos += this.#buf.write(s, this.#pos, n, 'utf8');
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /**
   * The whole frame: `[tag] + int32 length (counting itself, not the tag) + body`. Without a tag the
   * frame is an untagged startup-phase message. The writer must not be used afterwards.
   */
  finish(tag?: number): Buffer {
    const length = this.#pos - 1;
    if (length > 0x7fffffff) throw new RangeError(`message too large: ${length} bytes`);
    this.#buf.writeInt32BE(length, 1);
    if (tag === undefined) return this.#buf.subarray(1, this.#pos);
    this.#buf.writeUInt8(tag, 0);
    return this.#buf.subarray(0, this.#pos);
  }

  #ensure(n: number): void {
    const needed = this.#pos + n;
    if (needed <= this.#buf.length) return;
    let capacity = this.#buf.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(capacity);
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }
}
