/**
 * @module protocols/postgres/codec/frontend/describe
 * Describe (F): asks for the description of a prepared statement or portal.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-DESCRIBE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readTargetKind, type TargetKind, writeTargetKind } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Describe {
  type: 'Describe';
  /** 'S' a prepared statement, 'P' a portal. */
  kind: TargetKind;
  /** '' is the unnamed statement or portal. */
  name: string;
}

/*
 * Byte1('D')  Identifies the message as a Describe command.
 * Int32       Length of message contents in bytes, including self.
 * Byte1       'S' to describe a prepared statement; or 'P' to describe a portal.
 * String      The name of the prepared statement or portal to describe (an empty string selects
 *             the unnamed prepared statement or portal).
 */
export function encodeDescribe(msg: Describe): Buffer {
  const writer = new ByteWriter(msg.name.length + 2);
  writeTargetKind(writer, msg.kind);
  return writer.cstring(msg.name).finish(FrontendTag.Describe);
}

export function decodeDescribe(payload: Buffer): Describe {
  return decodeWith('Describe', payload, (r) => {
    const kind = readTargetKind(r);
    return { type: 'Describe', kind, name: r.cstring() };
  });
}
