/**
 * @module protocols/postgres/codec/backend/copy-out-response
 * CopyOutResponse (B): COPY TO STDOUT data follows. Layout in copy-response.ts.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYOUTRESPONSE
 */

import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';
import { type CopyFormat, encodeCopyFormat, readCopyFormat } from './copy-response.ts';

export interface CopyOutResponse extends CopyFormat {
  type: 'CopyOutResponse';
}

export function encodeCopyOutResponse(msg: CopyOutResponse): Buffer {
  return encodeCopyFormat(BackendTag.CopyOutResponse, msg);
}

export function decodeCopyOutResponse(payload: Buffer): CopyOutResponse {
  return decodeWith('CopyOutResponse', payload, (r) => ({ type: 'CopyOutResponse', ...readCopyFormat(r) }));
}
