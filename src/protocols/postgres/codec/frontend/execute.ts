/**
 * @module protocols/postgres/codec/frontend/execute
 * Execute (F): runs a portal.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-EXECUTE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Execute {
  type: 'Execute';
  /** '' is the unnamed portal. */
  portal: string;
  /** 0 means no limit. PostgreSQL reads the field unsigned, so a negative value also means "all". */
  maxRows: number;
}

/*
 * Byte1('E')  Identifies the message as an Execute command.
 * Int32       Length of message contents in bytes, including self.
 * String      The name of the portal to execute (an empty string selects the unnamed portal).
 * Int32       Maximum number of rows to return, if portal contains a query that returns rows
 *             (ignored otherwise). Zero denotes "no limit".
 */
export function encodeExecute(msg: Execute): Buffer {
  return new ByteWriter(msg.portal.length + 5)
    .cstring(msg.portal)
    .int32(msg.maxRows)
    .finish(FrontendTag.Execute);
}

export function decodeExecute(payload: Buffer): Execute {
  return decodeWith('Execute', payload, (r) => {
    const portal = r.cstring();
    return { type: 'Execute', portal, maxRows: r.int32() };
  });
}
