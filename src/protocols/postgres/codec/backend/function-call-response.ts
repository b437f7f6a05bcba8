/**
 * @module protocols/postgres/codec/backend/function-call-response
 * FunctionCallResponse (B): the result of a fast-path FunctionCall.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-FUNCTIONCALLRESPONSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readNullableBytes, writeNullableBytes } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface FunctionCallResponse {
  type: 'FunctionCallResponse';
  /** null is SQL NULL. */
  result: Buffer | null;
}

/*
 * Byte1('V')  Identifies the message as a function call result.
 * Int32       Length of message contents in bytes, including self.
 * Int32       The length of the function result value, in bytes (this count does not include
 *             itself). Can be zero. As a special case, -1 indicates a NULL function result. No
 *             value bytes follow in the NULL case.
 * Byten       The value of the function result, in the format indicated by the associated format
 *             code. n is the above length.
 */
export function encodeFunctionCallResponse(msg: FunctionCallResponse): Buffer {
  const writer = new ByteWriter(4 + (msg.result?.length ?? 0));
  writeNullableBytes(writer, msg.result);
  return writer.finish(BackendTag.FunctionCallResponse);
}

export function decodeFunctionCallResponse(payload: Buffer): FunctionCallResponse {
  return decodeWith('FunctionCallResponse', payload, (r) => ({
    type: 'FunctionCallResponse',
    result: readNullableBytes(r),
  }));
}
