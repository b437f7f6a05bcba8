/**
 * @module protocols/postgres/codec/frontend/terminate
 * Terminate (F): the client is closing the connection.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-TERMINATE
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Terminate {
  type: 'Terminate';
}

/*
 * Byte1('X')  Identifies the message as a termination.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const TERMINATE_FRAME = emptyFrame(FrontendTag.Terminate);

export function encodeTerminate(_msg: Terminate): Buffer {
  return TERMINATE_FRAME;
}

export function decodeTerminate(payload: Buffer): Terminate {
  return decodeEmpty('Terminate', payload, { type: 'Terminate' });
}
