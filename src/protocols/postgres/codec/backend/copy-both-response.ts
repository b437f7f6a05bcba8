/**
 * @module protocols/postgres/codec/backend/copy-both-response
 * CopyBothResponse (B): starts a bidirectional copy (streaming replication). Layout in copy-response.ts.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYBOTHRESPONSE
 */

import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';
import { type CopyFormat, encodeCopyFormat, readCopyFormat } from './copy-response.ts';

export interface CopyBothResponse extends CopyFormat {
  type: 'CopyBothResponse';
}

export function encodeCopyBothResponse(msg: CopyBothResponse): Buffer {
  return encodeCopyFormat(BackendTag.CopyBothResponse, msg);
}

export function decodeCopyBothResponse(payload: Buffer): CopyBothResponse {
  return decodeWith('CopyBothResponse', payload, (r) => ({ type: 'CopyBothResponse', ...readCopyFormat(r) }));
}
