/**
 * @module protocols/postgres/codec/frontend/flush
 * Flush (F): asks the server to send any pending output without ending the batch.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-FLUSH
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Flush {
  type: 'Flush';
}

/*
 * Byte1('H')  Identifies the message as a Flush command.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const FLUSH_FRAME = emptyFrame(FrontendTag.Flush);

export function encodeFlush(_msg: Flush): Buffer {
  return FLUSH_FRAME;
}

export function decodeFlush(payload: Buffer): Flush {
  return decodeEmpty('Flush', payload, { type: 'Flush' });
}
