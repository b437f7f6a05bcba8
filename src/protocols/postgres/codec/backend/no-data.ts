/**
 * @module protocols/postgres/codec/backend/no-data
 * NoData (B): the described statement or portal returns no rows.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NODATA
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface NoData {
  type: 'NoData';
}

/*
 * Byte1('n')  Identifies the message as a no-data indicator.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const NO_DATA_FRAME = emptyFrame(BackendTag.NoData);

export function encodeNoData(_msg: NoData): Buffer {
  return NO_DATA_FRAME;
}

export function decodeNoData(payload: Buffer): NoData {
  return decodeEmpty('NoData', payload, { type: 'NoData' });
}
