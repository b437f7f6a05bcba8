/**
 * @module protocols/postgres/to-error-response
 * Encodes a gateway refusal as a native ErrorResponse, so every client shows it the way it shows
 * server errors: SQLSTATE, a message that starts with `sluice:`, and a HINT saying what to do.
 */
import type { ClientFacingError } from '../../core/errors.ts';
import { encodeErrorResponse } from './codec/backend/error-response.ts';
import { encodeNoticeResponse } from './codec/backend/notice-response.ts';
import { errorFields, type NoticeFields } from './codec/error-fields.ts';
import type { NoticeText } from './ports.ts';

export type Severity = 'ERROR' | 'FATAL';

function fields(severity: Severity | 'NOTICE', code: string, text: NoticeText): NoticeFields {
  return errorFields({
    severity,
    code,
    message: text.message,
    ...(text.detail === undefined ? {} : { detail: text.detail }),
    ...(text.hint === undefined ? {} : { hint: text.hint }),
  });
}

export function toErrorResponse(error: ClientFacingError, severity: Severity): Buffer {
  return encodeErrorResponse({ type: 'ErrorResponse', fields: fields(severity, error.sqlstate, error) });
}

/** A NoticeResponse, as PostgreSQL sends them (SQLSTATE 00000): shown at once, nothing fails. */
export function toNoticeResponse(notice: NoticeText): Buffer {
  return encodeNoticeResponse({ type: 'NoticeResponse', fields: fields('NOTICE', '00000', notice) });
}
