/**
 * @module protocols/postgres/codec/backend/parse-complete
 * ParseComplete (B): a Parse succeeded.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARSECOMPLETE
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface ParseComplete {
  type: 'ParseComplete';
}

/*
 * Byte1('1')  Identifies the message as a Parse-complete indicator.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const PARSE_COMPLETE_FRAME = emptyFrame(BackendTag.ParseComplete);

export function encodeParseComplete(_msg: ParseComplete): Buffer {
  return PARSE_COMPLETE_FRAME;
}

export function decodeParseComplete(payload: Buffer): ParseComplete {
  return decodeEmpty('ParseComplete', payload, { type: 'ParseComplete' });
}
