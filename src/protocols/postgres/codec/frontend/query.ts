/**
 * @module protocols/postgres/codec/frontend/query
 * Query (F): a simple-protocol query string, which may hold several statements.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Query {
  type: 'Query';
  query: string;
}

/*
 * Byte1('Q')  Identifies the message as a simple query.
 * Int32       Length of message contents in bytes, including self.
 * String      The query string itself.
 */
export function encodeQuery(msg: Query): Buffer {
  return new ByteWriter(msg.query.length + 1).cstring(msg.query).finish(FrontendTag.Query);
}

export function decodeQuery(payload: Buffer): Query {
  return decodeWith('Query', payload, (r) => ({ type: 'Query', query: r.cstring() }));
}
