/**
 * @module protocols/postgres/codec/copy-data
 * CopyData (F & B): the same tag and layout in both directions.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYDATA
 */
import { ByteWriter } from '../../../core/bytes/writer.ts';
import { decodeWith } from './layout.ts';
import { FrontendTag } from './message-type.ts';

export interface CopyData {
  type: 'CopyData';
  /** A zero-copy view of the frame; copy it to keep it past the frame's lifetime. */
  data: Buffer;
}

/*
 * Byte1('d')  Identifies the message as COPY data.
 * Int32       Length of message contents in bytes, including self.
 * Byten       Data that forms part of a COPY data stream. Messages sent from the backend will
 *             always correspond to single data rows, but messages sent by frontends might divide
 *             the data stream arbitrarily.
 */
export function encodeCopyData(msg: CopyData): Buffer {
  return new ByteWriter(msg.data.length).bytes(msg.data).finish(FrontendTag.CopyData);
}

export function decodeCopyData(payload: Buffer): CopyData {
  return decodeWith('CopyData', payload, (r) => ({ type: 'CopyData', data: r.rest() }));
}
