/**
 * @module protocols/postgres/codec/layout
 * Field layouts that several messages share, and the one place where a decoder's failure becomes
 * `Malformed <Message>`. Decoders never catch anything themselves: they read through a
 * {@link ByteReader} inside {@link decodeWith}, which also rejects trailing bytes.
 */
import { ByteReader } from '../../../core/bytes/reader.ts';
import { ByteWriter } from '../../../core/bytes/writer.ts';
import { ProtocolError } from '../../../core/errors.ts';

/**
 * Runs `fn` over `payload` (the bytes after the length) and requires it to consume every byte.
 * Any {@link ProtocolError} from the reader or from {@link invalid} becomes one
 * `ProtocolError('Malformed <name>')`, so callers see which message was bad and never a reader
 * internal. Other errors are bugs and propagate unchanged.
 */
export function decodeWith<T>(name: string, payload: Buffer, fn: (reader: ByteReader) => T): T {
  const reader = new ByteReader(payload);
  try {
    const message = fn(reader);
    // Trailing bytes mean the sender and we disagree about the layout; PG rejects them too.
    if (reader.remaining !== 0) invalid('trailing bytes');
    return message;
  } catch (error) {
    if (error instanceof ProtocolError) throw new ProtocolError(`Malformed ${name}`);
    throw error;
  }
}

/** Rejects a field value inside {@link decodeWith}; the reason is replaced by the message name. */
export function invalid(reason: string): never {
  throw new ProtocolError(reason);
}

/** The whole frame of a message that has no fields: tag + Int32(4). */
export function emptyFrame(tag: number): Buffer {
  return new ByteWriter(0).finish(tag);
}

/** Decodes a message that has no fields: any payload byte is malformed. */
export function decodeEmpty<T>(name: string, payload: Buffer, message: T): T {
  return decodeWith(name, payload, () => message);
}

/*
 * A value that can be NULL (Bind parameters, DataRow columns, FunctionCall arguments, the
 * FunctionCallResponse result):
 *   Int32  The length of the value, in bytes (this count does not include itself). Can be zero.
 *          As a special case, -1 indicates a NULL value. No value bytes follow in the NULL case.
 *   Byten  The value. n is the above length.
 */
export function readNullableBytes(reader: ByteReader): Buffer | null {
  const length = reader.int32();
  if (length === -1) return null;
  if (length < 0) invalid('negative value length');
  return reader.bytes(length);
}

export function writeNullableBytes(writer: ByteWriter, value: Buffer | null): void {
  if (value === null) writer.int32(-1);
  else writer.int32(value.length).bytes(value);
}

/*
 * Int16 count, then that many nullable values. The count is read unsigned, as PostgreSQL does,
 * so 65,535 values (the protocol maximum) round-trip.
 */
export function readNullableBytesList(reader: ByteReader): (Buffer | null)[] {
  const count = reader.uint16();
  const values: (Buffer | null)[] = [];
  for (let i = 0; i < count; i++) values.push(readNullableBytes(reader));
  return values;
}

export function writeNullableBytesList(writer: ByteWriter, values: readonly (Buffer | null)[]): void {
  writer.uint16(values.length);
  for (const value of values) writeNullableBytes(writer, value);
}

/*
 * Format codes (Bind, FunctionCall, the Copy*Response messages):
 *   Int16     The number of format codes that follow (denoted C).
 *   Int16[C]  The format codes: zero (text) or one (binary).
 */
export function readFormatCodes(reader: ByteReader): number[] {
  const count = reader.uint16();
  const codes: number[] = [];
  for (let i = 0; i < count; i++) codes.push(reader.int16());
  return codes;
}

export function writeFormatCodes(writer: ByteWriter, codes: readonly number[]): void {
  writer.uint16(codes.length);
  for (const code of codes) writer.int16(code);
}

/*
 * Object IDs of data types (Parse, ParameterDescription):
 *   Int16     The number of data types that follow (denoted N).
 *   Int32[N]  The object IDs; OIDs are unsigned 32-bit values.
 */
export function readOidList(reader: ByteReader): number[] {
  const count = reader.uint16();
  const oids: number[] = [];
  for (let i = 0; i < count; i++) oids.push(reader.uint32());
  return oids;
}

export function writeOidList(writer: ByteWriter, oids: readonly number[]): void {
  writer.uint16(oids.length);
  for (const oid of oids) writer.uint32(oid);
}

/** Which object Describe and Close name: 'S' a prepared statement, 'P' a portal. */
export type TargetKind = 'S' | 'P';

export function readTargetKind(reader: ByteReader): TargetKind {
  const kind = reader.uint8();
  if (kind === 0x53) return 'S';
  if (kind === 0x50) return 'P';
  return invalid('unknown target kind');
}

export function writeTargetKind(writer: ByteWriter, kind: TargetKind): void {
  writer.uint8(kind === 'S' ? 0x53 : 0x50);
}

/*
 * The cancel secret key (BackendKeyData, CancelRequest) runs to the end of the message: 4 bytes on
 * protocol 3.0, up to 256 bytes since protocol 3.2 (PostgreSQL 18).
 */
export const SECRET_KEY_MIN_LENGTH = 4;
export const SECRET_KEY_MAX_LENGTH = 256;

export function readSecretKey(reader: ByteReader): Buffer {
  const key = reader.rest();
  if (key.length < SECRET_KEY_MIN_LENGTH || key.length > SECRET_KEY_MAX_LENGTH) {
    invalid('secret key length out of range');
  }
  return key;
}

export function writeSecretKey(writer: ByteWriter, key: Uint8Array): void {
  if (key.length < SECRET_KEY_MIN_LENGTH || key.length > SECRET_KEY_MAX_LENGTH) {
    throw new RangeError(`secret key must be ${SECRET_KEY_MIN_LENGTH}..${SECRET_KEY_MAX_LENGTH} bytes`);
  }
  writer.bytes(key);
}

/**
 * A list of non-empty strings ended by an empty one (SASL mechanisms, StartupMessage names). An
 * empty item cannot be encoded: the receiver would read it as the terminator.
 */
export function writeNonEmptyCString(writer: ByteWriter, s: string, what: string): void {
  if (s.length === 0) throw new RangeError(`${what} must not be empty`);
  writer.cstring(s);
}

/** The `default` arm of an exhaustive switch over a message union: a compile error if one is missed. */
export function unknownMessage(msg: never): never {
  throw new TypeError(`cannot encode message type ${String((msg as { type?: unknown }).type)}`);
}
