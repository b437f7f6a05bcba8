/**
 * @module protocols/postgres/codec/backend/command-complete
 * CommandComplete (B): a statement finished; the tag says which and how many rows.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COMMANDCOMPLETE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface CommandComplete {
  type: 'CommandComplete';
  /** e.g. 'SELECT 5', 'INSERT 0 1', 'UPDATE 3'. */
  tag: string;
}

/*
 * Byte1('C')  Identifies the message as a command-completed response.
 * Int32       Length of message contents in bytes, including self.
 * String      The command tag. This is usually a single word that identifies which SQL command
 *             was completed.
 */
export function encodeCommandComplete(msg: CommandComplete): Buffer {
  return new ByteWriter(msg.tag.length + 1).cstring(msg.tag).finish(BackendTag.CommandComplete);
}

export function decodeCommandComplete(payload: Buffer): CommandComplete {
  return decodeWith('CommandComplete', payload, (r) => ({ type: 'CommandComplete', tag: r.cstring() }));
}
