/**
 * @module protocols/postgres/framer
 * Cuts a PostgreSQL byte stream into frames, in either direction. No I/O and no decoding: the
 * session pushes socket chunks and pulls frames.
 *
 * ```
 * tagged:    Byte1 tag | Int32 length (counts itself, not the tag) | payload
 * untagged:              Int32 length (counts itself)                | payload   (startup phase)
 * ```
 *
 * Why it looks the way it does:
 * - The declared length is checked against a per-tag cap as soon as the header is present, and
 *   memory for a frame grows only with the bytes that actually arrived (never preallocated from
 *   the header), so `51 7ffffff0` followed by silence costs nothing.
 * - A frame that lies inside one pushed chunk is returned as a view of that chunk (zero-copy), and
 *   consecutive frames from one chunk are adjacent views, so the session can coalesce them into
 *   one write. Only a frame that spans chunks is copied, into a buffer that belongs to that frame
 *   alone: the framer never writes into memory it has handed out, because the session passes
 *   `frame.bytes` to `socket.write()`, which holds on to it until flushed.
 * - Pushed chunks are referenced, not copied: the caller must not reuse a chunk's memory after
 *   pushing it (socket 'data' chunks are never reused).
 * - After a protocol error the framer is dead: the stream cannot be resynchronised.
 */
import { ProtocolError } from '../../core/errors.ts';
import { BackendTag, describeTag, FrontendTag } from './codec/message-type.ts';

export interface Frame {
  /** The message type byte; 0 for untagged startup-phase messages. */
  readonly tag: number;
  /** The bytes after the length. */
  readonly payload: Buffer;
  /** The whole frame, tag and length included: `source[start, end)`. */
  readonly bytes: Buffer;
  /**
   * The buffer the frame lies in, and where. The relay forwards unmodified frames by range, so
   * a run of them costs one view and one write, whatever the number of messages.
   */
  readonly source: Buffer;
  readonly start: number;
  readonly end: number;
}

export type FramerMode = 'untagged' | 'tagged';

export interface FramerOptions {
  /** Maximum total frame length (the int32 length value, which includes itself) allowed for a tag. */
  maxLength(tag: number): number;
}

/** The startup packet bounds PostgreSQL enforces (ProcessStartupPacket). */
export const STARTUP_MIN_LENGTH = 8;
export const STARTUP_MAX_LENGTH = 10_000;

/** PostgreSQL's PQ_SMALL_MESSAGE_LIMIT, for messages whose size is fixed or tiny. */
export const SMALL_MESSAGE_LIMIT = 10_000;

const TAG_SIZE = 1;
const LENGTH_SIZE = 4;
const MIN_LENGTH = LENGTH_SIZE;
const MAX_INT32 = 0x7fffffff;
/** First allocation for a frame that spans chunks; it then doubles up to the declared length. */
const INITIAL_SPAN_CAPACITY = 16 * 1024;

/** Query: Int32 length + the query string's NUL. */
const QUERY_OVERHEAD = LENGTH_SIZE + 1;
/**
 * Parse: length, two NULs, the Int16 type count, up to 65,535 type OIDs, and room for a statement
 * name. The framer cap is only an upper bound; the session checks the query text itself.
 */
const PARSE_OVERHEAD = LENGTH_SIZE + 2 + 2 + 4 * 0xffff + 1024;

class PgFrame implements Frame {
  readonly tag: number;
  readonly source: Buffer;
  readonly start: number;
  readonly end: number;
  readonly #headerSize: number;

  constructor(tag: number, source: Buffer, start: number, end: number, headerSize: number) {
    this.tag = tag;
    this.source = source;
    this.start = start;
    this.end = end;
    this.#headerSize = headerSize;
  }

  /** Views are made on use only: most relayed frames (DataRows) are never looked into. */
  get bytes(): Buffer {
    return this.source.subarray(this.start, this.end);
  }

  get payload(): Buffer {
    return this.source.subarray(this.start + this.#headerSize, this.end);
  }
}

export class MessageFramer {
  readonly #options: FramerOptions;
  #mode: FramerMode;
  #dead = false;

  /** Pushed chunks not yet fully consumed: `#chunks[#head]` from `#offset` onwards, then the rest. */
  #chunks: Buffer[] = [];
  #head = 0;
  #offset = 0;
  #queued = 0;

  /** A header split across chunks is gathered here; this buffer is never handed out. */
  readonly #header = Buffer.alloc(TAG_SIZE + LENGTH_SIZE);
  #headerFill = 0;

  /** A frame split across chunks is copied here; each such frame gets a fresh buffer. */
  #span: Buffer | null = null;
  #spanFill = 0;
  #spanSize = 0;
  #spanTag = 0;
  #spanHeaderSize = 0;

  constructor(options: FramerOptions, mode: FramerMode) {
    this.#options = options;
    this.#mode = mode;
  }

  get mode(): FramerMode {
    return this.#mode;
  }

  /** Switch between frames, e.g. to 'tagged' once the StartupMessage has been read. */
  set mode(mode: FramerMode) {
    // A frame whose header was already read under the old mode cannot be reinterpreted.
    if (this.#span !== null && mode !== this.#mode) {
      throw new Error('cannot change framer mode in the middle of a frame');
    }
    this.#mode = mode;
  }

  /** Bytes buffered but not yet returned as part of a frame. */
  get pendingBytes(): number {
    return this.#queued + this.#headerFill + this.#spanFill;
  }

  push(chunk: Buffer): void {
    if (this.#dead) throw unusable();
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
  }

  /** The next complete frame, or undefined when more bytes are needed. Throws ProtocolError. */
  next(): Frame | undefined {
    if (this.#dead) throw unusable();
    try {
      return this.#next();
    } catch (error) {
      this.#die();
      throw error;
    }
  }

  #next(): Frame | undefined {
    const headerSize = this.#mode === 'tagged' ? TAG_SIZE + LENGTH_SIZE : LENGTH_SIZE;
    for (;;) {
      if (this.#span !== null) return this.#fillSpan();
      if (this.#headerFill > 0) {
        if (!this.#fillHeader(headerSize)) return undefined;
        const span = this.#beginSpan(this.#header, 0, headerSize);
        this.#header.copy(span, 0, 0, headerSize);
        this.#spanFill = headerSize;
        this.#headerFill = 0;
        continue;
      }
      const chunk = this.#chunks[this.#head];
      if (chunk === undefined) return undefined;
      const offset = this.#offset;
      const available = chunk.length - offset;
      if (available < headerSize) {
        this.#fillHeader(headerSize);
        continue;
      }
      const { tag, size } = this.#readHeader(chunk, offset, headerSize);
      if (size <= available) {
        this.#advance(size);
        return new PgFrame(tag, chunk, offset, offset + size, headerSize);
      }
      // The header stays queued; #fillSpan copies it along with the payload.
      this.#beginSpan(chunk, offset, headerSize);
    }
  }

  /** Validates a complete header before a single payload byte is copied. */
  #readHeader(buf: Buffer, at: number, headerSize: number): { tag: number; size: number } {
    const length = buf.readUInt32BE(at + headerSize - LENGTH_SIZE);
    if (this.#mode === 'untagged') {
      if (length < STARTUP_MIN_LENGTH) throw new ProtocolError(`invalid startup packet length ${length}`);
      if (length > STARTUP_MAX_LENGTH) {
        throw new ProtocolError(
          `startup packet length ${length} exceeds ${STARTUP_MAX_LENGTH}`,
          'GW_ERR_MESSAGE_TOO_LARGE',
        );
      }
      return { tag: 0, size: length };
    }
    const tag = buf.readUInt8(at);
    if (length < MIN_LENGTH)
      throw new ProtocolError(`invalid length ${length} for message ${describeTag(tag)}`);
    // Compared before any arithmetic, so a length near 2^32 can never wrap into a small size.
    const max = this.#options.maxLength(tag);
    if (length > max) {
      throw new ProtocolError(
        `message ${describeTag(tag)} length ${length} exceeds the ${max}-byte limit`,
        'GW_ERR_MESSAGE_TOO_LARGE',
      );
    }
    return { tag, size: TAG_SIZE + length };
  }

  /** Starts copying a frame that spans chunks; the buffer grows only as bytes arrive. */
  #beginSpan(header: Buffer, at: number, headerSize: number): Buffer {
    const { tag, size } = this.#readHeader(header, at, headerSize);
    const span = Buffer.allocUnsafe(Math.min(size, INITIAL_SPAN_CAPACITY));
    this.#span = span;
    this.#spanFill = 0;
    this.#spanSize = size;
    this.#spanTag = tag;
    this.#spanHeaderSize = headerSize;
    return span;
  }

  #fillSpan(): Frame | undefined {
    let span = this.#span;
    if (span === null) return undefined;
    while (this.#spanFill < this.#spanSize) {
      const chunk = this.#chunks[this.#head];
      if (chunk === undefined) return undefined;
      const n = Math.min(this.#spanSize - this.#spanFill, chunk.length - this.#offset);
      const needed = this.#spanFill + n;
      if (needed > span.length) {
        let capacity = span.length * 2;
        while (capacity < needed) capacity *= 2;
        const grown = Buffer.allocUnsafe(Math.min(capacity, this.#spanSize));
        span.copy(grown, 0, 0, this.#spanFill);
        span = grown;
        this.#span = grown;
      }
      chunk.copy(span, this.#spanFill, this.#offset, this.#offset + n);
      this.#spanFill = needed;
      this.#advance(n);
    }
    const frame = new PgFrame(this.#spanTag, span, 0, this.#spanSize, this.#spanHeaderSize);
    // The frame now owns this buffer; the next spanning frame starts a new one.
    this.#span = null;
    this.#spanFill = 0;
    return frame;
  }

  /** Gathers a header split across chunks; true once all `headerSize` bytes are present. */
  #fillHeader(headerSize: number): boolean {
    while (this.#headerFill < headerSize) {
      const chunk = this.#chunks[this.#head];
      if (chunk === undefined) return false;
      const n = Math.min(headerSize - this.#headerFill, chunk.length - this.#offset);
      chunk.copy(this.#header, this.#headerFill, this.#offset, this.#offset + n);
      this.#headerFill += n;
      this.#advance(n);
    }
    return true;
  }

  /** Consumes `n` bytes of the head chunk, dropping it (and our reference to it) when done. */
  #advance(n: number): void {
    this.#offset += n;
    this.#queued -= n;
    const chunk = this.#chunks[this.#head];
    if (chunk !== undefined && this.#offset === chunk.length) {
      this.#offset = 0;
      this.#head++;
      if (this.#head === this.#chunks.length) {
        this.#chunks.length = 0;
        this.#head = 0;
      }
    }
  }

  #die(): void {
    this.#dead = true;
    this.#chunks = [];
    this.#head = 0;
    this.#offset = 0;
    this.#queued = 0;
    this.#headerFill = 0;
    this.#span = null;
    this.#spanFill = 0;
  }
}

function unusable(): ProtocolError {
  return new ProtocolError('framer unusable after protocol error');
}

/** Builds a `maxLength` from a 256-entry table; unlisted tags get the small limit. */
function limitTable(entries: readonly (readonly [tags: readonly number[], limit: number])[]): FramerOptions {
  const table = new Array<number>(256).fill(SMALL_MESSAGE_LIMIT);
  for (const [tags, limit] of entries) for (const tag of tags) table[tag] = limit;
  return { maxLength: (tag) => table[tag] ?? SMALL_MESSAGE_LIMIT };
}

/** A configured byte count plus the header overhead of its message, capped at the Int32 maximum. */
function checkedLimit(name: string, value: number, overhead = 0): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer`);
  // The wire length is an Int32, so no larger cap means anything.
  return Math.min(value + overhead, MAX_INT32);
}

/**
 * Caps for what a client sends. Query and Parse are capped near `maxQueryBytes`; messages of fixed
 * or tiny size at 10,000 bytes, as PostgreSQL does; Bind, CopyData, CopyFail, FunctionCall and
 * authentication responses at `maxMessageBytes`. Unknown tags get the small limit: the decoder will
 * refuse them anyway, so there is no reason to buffer much of one first.
 */
export function frontendLimits(options: { maxQueryBytes: number; maxMessageBytes: number }): FramerOptions {
  const large = checkedLimit('maxMessageBytes', options.maxMessageBytes);
  return limitTable([
    [[FrontendTag.Query], checkedLimit('maxQueryBytes', options.maxQueryBytes, QUERY_OVERHEAD)],
    [[FrontendTag.Parse], checkedLimit('maxQueryBytes', options.maxQueryBytes, PARSE_OVERHEAD)],
    [
      [
        FrontendTag.Bind,
        FrontendTag.CopyData,
        FrontendTag.CopyFail,
        FrontendTag.FunctionCall,
        FrontendTag.AuthenticationResponse,
      ],
      large,
    ],
  ]);
}

/**
 * Caps for what a server sends: `maxMessageBytes` for everything that can carry data (DataRow and
 * CopyData can be large), 10,000 bytes for fixed-size messages and unknown tags.
 */
export function backendLimits(options: { maxMessageBytes: number }): FramerOptions {
  const large = checkedLimit('maxMessageBytes', options.maxMessageBytes);
  return limitTable([
    [
      [
        BackendTag.Authentication,
        BackendTag.ParameterStatus,
        BackendTag.RowDescription,
        BackendTag.DataRow,
        BackendTag.CommandComplete,
        BackendTag.ErrorResponse,
        BackendTag.NoticeResponse,
        BackendTag.NotificationResponse,
        BackendTag.ParameterDescription,
        BackendTag.CopyInResponse,
        BackendTag.CopyOutResponse,
        BackendTag.CopyBothResponse,
        BackendTag.CopyData,
        BackendTag.FunctionCallResponse,
        BackendTag.NegotiateProtocolVersion,
      ],
      large,
    ],
  ]);
}
