/**
 * @module protocols/postgres/codec/backend/bind-complete
 * BindComplete (B): a Bind succeeded.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BINDCOMPLETE
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface BindComplete {
  type: 'BindComplete';
}

/*
 * Byte1('2')  Identifies the message as a Bind-complete indicator.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const BIND_COMPLETE_FRAME = emptyFrame(BackendTag.BindComplete);

export function encodeBindComplete(_msg: BindComplete): Buffer {
  return BIND_COMPLETE_FRAME;
}

export function decodeBindComplete(payload: Buffer): BindComplete {
  return decodeEmpty('BindComplete', payload, { type: 'BindComplete' });
}
