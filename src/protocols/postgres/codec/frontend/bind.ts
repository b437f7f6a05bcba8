/**
 * @module protocols/postgres/codec/frontend/bind
 * Bind (F): binds parameter values to a prepared statement, creating a portal.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BIND
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import {
  decodeWith,
  readFormatCodes,
  readNullableBytesList,
  writeFormatCodes,
  writeNullableBytesList,
} from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface Bind {
  type: 'Bind';
  /** The destination portal; '' is the unnamed portal. */
  portal: string;
  /** The source prepared statement; '' is the unnamed statement. */
  statement: string;
  /** None (all text), one (applies to all) or one per parameter. */
  parameterFormats: number[];
  /** Zero-copy views of the frame; null is SQL NULL. */
  parameters: (Buffer | null)[];
  /** None (all text), one (applies to all) or one per result column. */
  resultFormats: number[];
}

/*
 * Byte1('B')  Identifies the message as a Bind command.
 * Int32       Length of message contents in bytes, including self.
 * String      The name of the destination portal (an empty string selects the unnamed portal).
 * String      The name of the source prepared statement (an empty string selects the unnamed
 *             prepared statement).
 * Int16       The number of parameter format codes that follow (denoted C below). This can be
 *             zero to indicate that there are no parameters or that the parameters all use the
 *             default format (text); or one, in which case the specified format code is applied
 *             to all parameters; or it can equal the actual number of parameters.
 * Int16[C]    The parameter format codes. Each must presently be zero (text) or one (binary).
 * Int16       The number of parameter values that follow (possibly zero). This must match the
 *             number of parameters needed by the query.
 * Next, the following pair of fields appear for each parameter:
 * Int32       The length of the parameter value, in bytes (this count does not include itself).
 *             Can be zero. As a special case, -1 indicates a NULL parameter value. No value bytes
 *             follow in the NULL case.
 * Byten       The value of the parameter, in the format indicated by the associated format code.
 *             n is the above length.
 * After the last parameter, the following fields appear:
 * Int16       The number of result-column format codes that follow (denoted R below). This can
 *             be zero to indicate that there are no result columns or that the result columns
 *             should all use the default format (text); or one, in which case the specified
 *             format code is applied to all result columns (if any); or it can equal the actual
 *             number of result columns of the query.
 * Int16[R]    The result-column format codes. Each must presently be zero (text) or one (binary).
 */
export function encodeBind(msg: Bind): Buffer {
  let size = msg.portal.length + msg.statement.length + 8;
  size += 2 * (msg.parameterFormats.length + msg.resultFormats.length);
  for (const value of msg.parameters) size += 4 + (value?.length ?? 0);
  const writer = new ByteWriter(size).cstring(msg.portal).cstring(msg.statement);
  writeFormatCodes(writer, msg.parameterFormats);
  writeNullableBytesList(writer, msg.parameters);
  writeFormatCodes(writer, msg.resultFormats);
  return writer.finish(FrontendTag.Bind);
}

export function decodeBind(payload: Buffer): Bind {
  return decodeWith('Bind', payload, (r) => {
    const portal = r.cstring();
    const statement = r.cstring();
    const parameterFormats = readFormatCodes(r);
    const parameters = readNullableBytesList(r);
    return {
      type: 'Bind',
      portal,
      statement,
      parameterFormats,
      parameters,
      resultFormats: readFormatCodes(r),
    };
  });
}
