/**
 * @module protocols/postgres/codec/backend/copy-in-response
 * CopyInResponse (B): the server is ready to receive COPY FROM STDIN data. Layout in copy-response.ts.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYINRESPONSE
 */

import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';
import { type CopyFormat, encodeCopyFormat, readCopyFormat } from './copy-response.ts';

export interface CopyInResponse extends CopyFormat {
  type: 'CopyInResponse';
}

export function encodeCopyInResponse(msg: CopyInResponse): Buffer {
  return encodeCopyFormat(BackendTag.CopyInResponse, msg);
}

export function decodeCopyInResponse(payload: Buffer): CopyInResponse {
  return decodeWith('CopyInResponse', payload, (r) => ({ type: 'CopyInResponse', ...readCopyFormat(r) }));
}
