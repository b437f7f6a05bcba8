/**
 * @module protocols/postgres/codec/backend/close-complete
 * CloseComplete (B): a Close succeeded.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CLOSECOMPLETE
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface CloseComplete {
  type: 'CloseComplete';
}

/*
 * Byte1('3')  Identifies the message as a Close-complete indicator.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const CLOSE_COMPLETE_FRAME = emptyFrame(BackendTag.CloseComplete);

export function encodeCloseComplete(_msg: CloseComplete): Buffer {
  return CLOSE_COMPLETE_FRAME;
}

export function decodeCloseComplete(payload: Buffer): CloseComplete {
  return decodeEmpty('CloseComplete', payload, { type: 'CloseComplete' });
}
