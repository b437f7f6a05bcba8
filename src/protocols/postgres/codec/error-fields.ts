/**
 * @module protocols/postgres/codec/error-fields
 * The field list shared by ErrorResponse and NoticeResponse, and {@link errorFields} for the
 * gateway's own errors.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
import type { ByteReader } from '../../../core/bytes/reader.ts';
import type { ByteWriter } from '../../../core/bytes/writer.ts';
import { invalid } from './layout.ts';

/**
 * Fields keyed by their single-byte code. Known codes are named for readability; unknown codes are
 * kept (the spec tells frontends to ignore them, and a relay must not silently drop them).
 */
export interface NoticeFields {
  /** Severity, possibly localized. */
  S?: string;
  /** Severity, never localized (PostgreSQL 9.6+). */
  V?: string;
  /** SQLSTATE code. */
  C?: string;
  /** Primary message. */
  M?: string;
  /** Detail. */
  D?: string;
  /** Hint. */
  H?: string;
  /** Cursor position in the original query string (decimal, 1-based, in characters). */
  P?: string;
  /** Cursor position in an internally generated query. */
  p?: string;
  /** Internally generated query text. */
  q?: string;
  /** Context (call stack). */
  W?: string;
  /** Schema name. */
  s?: string;
  /** Table name. */
  t?: string;
  /** Column name. */
  c?: string;
  /** Data type name. */
  d?: string;
  /** Constraint name. */
  n?: string;
  /** Source file. */
  F?: string;
  /** Source line. */
  L?: string;
  /** Source routine. */
  R?: string;
  readonly [code: string]: string | undefined;
}

/*
 * The message body consists of one or more identified fields, followed by a zero byte as a
 * terminator. Fields can appear in any order. For each field there is the following:
 *   Byte1   A code identifying the field type; if zero, this is the message terminator and no
 *           string follows.
 *   String  The field value.
 */
export function readNoticeFields(reader: ByteReader): NoticeFields {
  const fields: Record<string, string> = {};
  for (let code = reader.uint8(); code !== 0; code = reader.uint8()) {
    const key = String.fromCharCode(code);
    // "Any given field type should appear at most once": a second copy could carry a value that a
    // masker never looked at, so refuse it rather than pick one.
    if (Object.hasOwn(fields, key)) invalid('duplicate field');
    fields[key] = reader.cstring();
  }
  return fields;
}

export function writeNoticeFields(writer: ByteWriter, fields: NoticeFields): void {
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const code = key.length === 1 ? key.charCodeAt(0) : 0;
    if (code < 1 || code > 0xff) throw new RangeError(`invalid notice field code ${JSON.stringify(key)}`);
    writer.uint8(code).cstring(value);
  }
  writer.uint8(0);
}

export type ErrorSeverity = 'ERROR' | 'FATAL' | 'PANIC';
export type NoticeSeverity = 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

/**
 * Fields for an error or notice the gateway sends itself. Both S and V are set: libpq prefers V
 * (never localized) and older clients read S.
 * @example encodeErrorResponse({ type: 'ErrorResponse', fields: errorFields({ severity: 'FATAL', code: '28P01', message: 'sluice: authentication failed' }) })
 */
export function errorFields(options: {
  severity: ErrorSeverity | NoticeSeverity;
  code: string;
  message: string;
  detail?: string | undefined;
  hint?: string | undefined;
}): NoticeFields {
  const fields: NoticeFields = {
    S: options.severity,
    V: options.severity,
    C: options.code,
    M: options.message,
  };
  if (options.detail !== undefined) fields.D = options.detail;
  if (options.hint !== undefined) fields.H = options.hint;
  return fields;
}
