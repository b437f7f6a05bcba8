/**
 * @module protocols/postgres/to-error-response
 * Encodes a gateway refusal as a native ErrorResponse, so every client shows it the way it shows
 * server errors: SQLSTATE, a message that starts with `sluice:`, and a HINT saying what to do.
 */
import type { ClientFacingError } from '../../core/errors.ts';
import { encodeErrorResponse } from './codec/backend/error-response.ts';
import { errorFields } from './codec/error-fields.ts';

export type Severity = 'ERROR' | 'FATAL';

export function toErrorResponse(error: ClientFacingError, severity: Severity): Buffer {
  return encodeErrorResponse({
    type: 'ErrorResponse',
    fields: errorFields({
      severity,
      code: error.sqlstate,
      message: error.message,
      ...(error.detail === undefined ? {} : { detail: error.detail }),
      ...(error.hint === undefined ? {} : { hint: error.hint }),
    }),
  });
}
