/**
 * @module protocols/postgres/codec/frontend/close
 * Close (F): closes a prepared statement or portal.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CLOSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readTargetKind, type TargetKind, writeTargetKind } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Close {
  type: 'Close';
  /** 'S' a prepared statement, 'P' a portal. */
  kind: TargetKind;
  /** '' is the unnamed statement or portal. */
  name: string;
}

/*
 * Byte1('C')  Identifies the message as a Close command.
 * Int32       Length of message contents in bytes, including self.
 * Byte1       'S' to close a prepared statement; or 'P' to close a portal.
 * String      The name of the prepared statement or portal to close (an empty string selects the
 *             unnamed prepared statement or portal).
 */
export function encodeClose(msg: Close): Buffer {
  const writer = new ByteWriter(msg.name.length + 2);
  writeTargetKind(writer, msg.kind);
  return writer.cstring(msg.name).finish(FrontendTag.Close);
}

export function decodeClose(payload: Buffer): Close {
  return decodeWith('Close', payload, (r) => {
    const kind = readTargetKind(r);
    return { type: 'Close', kind, name: r.cstring() };
  });
}
