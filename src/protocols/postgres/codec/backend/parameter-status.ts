/**
 * @module protocols/postgres/codec/backend/parameter-status
 * ParameterStatus (B): the current value of a run-time parameter the client should know about.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface ParameterStatus {
  type: 'ParameterStatus';
  name: string;
  value: string;
}

/*
 * Byte1('S')  Identifies the message as a run-time parameter status report.
 * Int32       Length of message contents in bytes, including self.
 * String      The name of the run-time parameter being reported.
 * String      The current value of the parameter.
 */
export function encodeParameterStatus(msg: ParameterStatus): Buffer {
  return new ByteWriter(msg.name.length + msg.value.length + 2)
    .cstring(msg.name)
    .cstring(msg.value)
    .finish(BackendTag.ParameterStatus);
}

export function decodeParameterStatus(payload: Buffer): ParameterStatus {
  return decodeWith('ParameterStatus', payload, (r) => {
    const name = r.cstring();
    return { type: 'ParameterStatus', name, value: r.cstring() };
  });
}
