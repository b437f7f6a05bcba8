/**
 * @module protocols/postgres/codec/frontend/sync
 * Sync (F): ends an extended-query batch; the server answers ReadyForQuery.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SYNC
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Sync {
  type: 'Sync';
}

/*
 * Byte1('S')  Identifies the message as a Sync command.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const SYNC_FRAME = emptyFrame(FrontendTag.Sync);

export function encodeSync(_msg: Sync): Buffer {
  return SYNC_FRAME;
}

export function decodeSync(payload: Buffer): Sync {
  return decodeEmpty('Sync', payload, { type: 'Sync' });
}
