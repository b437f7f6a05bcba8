/**
 * @module protocols/postgres/codec/backend/data-row
 * DataRow (B): one row of a result set.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DATAROW
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readNullableBytesList, writeNullableBytesList } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface DataRow {
  type: 'DataRow';
  /** Zero-copy views of the frame; null is SQL NULL. Copy a value to keep it past the frame. */
  values: (Buffer | null)[];
}

/*
 * Byte1('D')  Identifies the message as a data row.
 * Int32       Length of message contents in bytes, including self.
 * Int16       The number of column values that follow (possibly zero).
 * Next, the following pair of fields appear for each column:
 * Int32       The length of the column value, in bytes (this count does not include itself). Can
 *             be zero. As a special case, -1 indicates a NULL column value. No value bytes follow
 *             in the NULL case.
 * Byten       The value of the column, in the format indicated by the associated format code. n
 *             is the above length.
 */
export function encodeDataRow(msg: DataRow): Buffer {
  let size = 2;
  for (const value of msg.values) size += 4 + (value?.length ?? 0);
  const writer = new ByteWriter(size);
  writeNullableBytesList(writer, msg.values);
  return writer.finish(BackendTag.DataRow);
}

export function decodeDataRow(payload: Buffer): DataRow {
  return decodeWith('DataRow', payload, (r) => ({ type: 'DataRow', values: readNullableBytesList(r) }));
}
