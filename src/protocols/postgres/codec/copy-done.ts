/**
 * @module protocols/postgres/codec/copy-done
 * CopyDone (F & B): the same tag and layout in both directions.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDONE
 */
import { decodeEmpty, emptyFrame } from './layout.ts';
import { FrontendTag } from './message-type.ts';

export interface CopyDone {
  type: 'CopyDone';
}

/*
 * Byte1('c')  Identifies the message as a COPY-complete indicator.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const COPY_DONE_FRAME = emptyFrame(FrontendTag.CopyDone);

export function encodeCopyDone(_msg: CopyDone): Buffer {
  return COPY_DONE_FRAME;
}

export function decodeCopyDone(payload: Buffer): CopyDone {
  return decodeEmpty('CopyDone', payload, { type: 'CopyDone' });
}
