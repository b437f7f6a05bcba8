/**
 * @module protocols/postgres/codec/backend/parameter-description
 * ParameterDescription (B): the parameter types of a described prepared statement.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERDESCRIPTION
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readOidList, writeOidList } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface ParameterDescription {
  type: 'ParameterDescription';
  parameterTypes: number[];
}

/*
 * Byte1('t')  Identifies the message as a parameter description.
 * Int32       Length of message contents in bytes, including self.
 * Int16       The number of parameters used by the statement (can be zero).
 * Then, for each parameter, there is the following:
 * Int32       Specifies the object ID of the parameter data type.
 */
export function encodeParameterDescription(msg: ParameterDescription): Buffer {
  const writer = new ByteWriter(2 + 4 * msg.parameterTypes.length);
  writeOidList(writer, msg.parameterTypes);
  return writer.finish(BackendTag.ParameterDescription);
}

export function decodeParameterDescription(payload: Buffer): ParameterDescription {
  return decodeWith('ParameterDescription', payload, (r) => ({
    type: 'ParameterDescription',
    parameterTypes: readOidList(r),
  }));
}
