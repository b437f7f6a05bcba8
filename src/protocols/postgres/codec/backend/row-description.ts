/**
 * @module protocols/postgres/codec/backend/row-description
 * RowDescription (B): the columns of the rows that follow. tableOid + columnAttr tell which table column a field comes from, which is what column-level masking keys on.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-ROWDESCRIPTION
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface FieldDescription {
  name: string;
  /** The table's OID if the field is a plain table column, else 0. */
  tableOid: number;
  /** The column's attribute number if the field is a plain table column, else 0. */
  columnAttr: number;
  typeOid: number;
  /** pg_type.typlen; negative means variable width. */
  typeSize: number;
  /** pg_attribute.atttypmod; type-specific. */
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

export interface RowDescription {
  type: 'RowDescription';
  fields: FieldDescription[];
}

/*
 * Byte1('T')  Identifies the message as a row description.
 * Int32       Length of message contents in bytes, including self.
 * Int16       Specifies the number of fields in a row (can be zero).
 * Then, for each field, there is the following:
 * String      The field name.
 * Int32       If the field can be identified as a column of a specific table, the object ID of the
 *             table; otherwise zero.
 * Int16       If the field can be identified as a column of a specific table, the attribute number
 *             of the column; otherwise zero.
 * Int32       The object ID of the field's data type.
 * Int16       The data type size (see pg_type.typlen). Note that negative values denote
 *             variable-width types.
 * Int32       The type modifier (see pg_attribute.atttypmod). The meaning of the modifier is
 *             type-specific.
 * Int16       The format code being used for the field. Currently will be zero (text) or one
 *             (binary). In a RowDescription returned from the statement variant of Describe, the
 *             format code is not yet known and will always be zero.
 */
export function encodeRowDescription(msg: RowDescription): Buffer {
  let size = 2;
  for (const field of msg.fields) size += field.name.length + 19;
  const writer = new ByteWriter(size).uint16(msg.fields.length);
  for (const field of msg.fields) {
    writer
      .cstring(field.name)
      .uint32(field.tableOid)
      .int16(field.columnAttr)
      .uint32(field.typeOid)
      .int16(field.typeSize)
      .int32(field.typeModifier)
      .int16(field.format);
  }
  return writer.finish(BackendTag.RowDescription);
}

export function decodeRowDescription(payload: Buffer): RowDescription {
  return decodeWith('RowDescription', payload, (r) => {
    const count = r.uint16();
    const fields: FieldDescription[] = [];
    for (let i = 0; i < count; i++) {
      fields.push({
        name: r.cstring(),
        tableOid: r.uint32(),
        columnAttr: r.int16(),
        typeOid: r.uint32(),
        typeSize: r.int16(),
        typeModifier: r.int32(),
        format: r.int16(),
      });
    }
    return { type: 'RowDescription', fields };
  });
}
