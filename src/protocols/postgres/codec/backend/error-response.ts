/**
 * @module protocols/postgres/codec/backend/error-response
 * ErrorResponse (B): an error; the fields are shared with NoticeResponse.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ERRORRESPONSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { type NoticeFields, readNoticeFields, writeNoticeFields } from '../error-fields.ts';
import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export type { NoticeFields } from '../error-fields.ts';

export interface ErrorResponse {
  type: 'ErrorResponse';
  /** Decoded as sent: a missing S, C or M field is for the session to judge, not the codec. */
  fields: NoticeFields;
}

/*
 * Byte1('E')  Identifies the message as an error.
 * Int32       Length of message contents in bytes, including self.
 * The message body consists of one or more identified fields, followed by a zero byte as a
 * terminator. Fields can appear in any order. For each field there is the following:
 * Byte1       A code identifying the field type; if zero, this is the message terminator and no
 *             string follows. The presently defined field types are listed under
 *             protocol-error-fields (see error-fields.ts).
 * String      The field value.
 */
export function encodeErrorResponse(msg: ErrorResponse): Buffer {
  const writer = new ByteWriter(128);
  writeNoticeFields(writer, msg.fields);
  return writer.finish(BackendTag.ErrorResponse);
}

export function decodeErrorResponse(payload: Buffer): ErrorResponse {
  return decodeWith('ErrorResponse', payload, (r) => ({
    type: 'ErrorResponse',
    fields: readNoticeFields(r),
  }));
}
