/**
 * @module protocols/postgres/codec/frontend/parse
 * Parse (F): creates a prepared statement from one SQL statement.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readOidList, writeOidList } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Parse {
  type: 'Parse';
  /** The prepared statement name; '' is the unnamed statement. */
  name: string;
  query: string;
  /** Parameter type OIDs; 0 leaves a type unspecified. */
  parameterTypes: number[];
}

/*
 * Byte1('P')  Identifies the message as a Parse command.
 * Int32       Length of message contents in bytes, including self.
 * String      The name of the destination prepared statement (an empty string selects the unnamed
 *             prepared statement).
 * String      The query string to be parsed.
 * Int16       The number of parameter data types specified (can be zero). Note that this is not an
 *             indication of the number of parameters that might appear in the query string, only
 *             the number that the frontend wants to prespecify types for.
 * Then, for each parameter, there is the following:
 * Int32       Specifies the object ID of the parameter data type. Placing a zero here is
 *             equivalent to leaving the type unspecified.
 */
export function encodeParse(msg: Parse): Buffer {
  const writer = new ByteWriter(msg.name.length + msg.query.length + 4 + 4 * msg.parameterTypes.length)
    .cstring(msg.name)
    .cstring(msg.query);
  writeOidList(writer, msg.parameterTypes);
  return writer.finish(FrontendTag.Parse);
}

export function decodeParse(payload: Buffer): Parse {
  return decodeWith('Parse', payload, (r) => {
    const name = r.cstring();
    const query = r.cstring();
    return { type: 'Parse', name, query, parameterTypes: readOidList(r) };
  });
}
