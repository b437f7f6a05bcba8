/**
 * @module protocols/postgres/codec/backend/ready-for-query
 * ReadyForQuery (B): the server is ready for a new query cycle; carries the transaction status.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-READYFORQUERY
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, invalid } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export type TransactionStatus = 'I' | 'T' | 'E';

export interface ReadyForQuery {
  type: 'ReadyForQuery';
  /** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
  status: TransactionStatus;
}

/*
 * Byte1('Z')  Identifies the message type. ReadyForQuery is sent whenever the backend is ready
 *             for a new query cycle.
 * Int32(5)    Length of message contents in bytes, including self.
 * Byte1       Current backend transaction status indicator. Possible values are 'I' if idle (not
 *             in a transaction block); 'T' if in a transaction block; or 'E' if in a failed
 *             transaction block (queries will be rejected until block is ended).
 */
export function encodeReadyForQuery(msg: ReadyForQuery): Buffer {
  return new ByteWriter(1).uint8(msg.status.charCodeAt(0)).finish(BackendTag.ReadyForQuery);
}

export function decodeReadyForQuery(payload: Buffer): ReadyForQuery {
  return decodeWith('ReadyForQuery', payload, (r) => {
    const status = String.fromCharCode(r.uint8());
    // The session tracks transaction state from this byte, so anything else is not guessed at.
    if (status !== 'I' && status !== 'T' && status !== 'E') invalid('unknown transaction status');
    return { type: 'ReadyForQuery', status };
  });
}
