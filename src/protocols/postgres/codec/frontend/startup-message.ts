/**
 * @module protocols/postgres/codec/frontend/startup-message
 * StartupMessage (F): untagged; the first message of a plaintext or TLS session.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, invalid, writeNonEmptyCString } from '../layout.ts';

export interface StartupMessage {
  type: 'StartupMessage';
  /** Major version in the high 16 bits, minor in the low 16: 196608 is 3.0, 196610 is 3.2. */
  protocolVersion: number;
  /**
   * Name/value pairs in wire order, in an object without a prototype so a name such as
   * `__proto__` or `constructor` is just data.
   */
  parameters: Record<string, string>;
}

/** 3.0 as sent on the wire. */
export const PROTOCOL_VERSION_3_0 = 3 << 16;

/*
 * Int32          Length of message contents in bytes, including self.
 * Int32(196608)  The protocol version number. The most significant 16 bits are the major version
 *                number (3 for the protocol described here). The least significant 16 bits are the
 *                minor version number (0 or 2 for the protocol described here).
 * The protocol version number is followed by one or more pairs of parameter name and value
 * strings. A zero byte is required as a terminator after the last name/value pair. Parameters can
 * appear in any order. user is required, others are optional. Each parameter is specified as:
 * String         The parameter name.
 * String         The parameter value.
 */
export function encodeStartupMessage(msg: StartupMessage): Buffer {
  const writer = new ByteWriter(128).int32(msg.protocolVersion);
  for (const [name, value] of Object.entries(msg.parameters)) {
    writeNonEmptyCString(writer, name, 'startup parameter name');
    writer.cstring(value);
  }
  return writer.uint8(0).finish();
}

export function decodeStartupMessage(payload: Buffer): StartupMessage {
  return decodeWith('StartupMessage', payload, (r) => {
    const protocolVersion = r.int32();
    const parameters: Record<string, string> = Object.create(null);
    for (let name = r.cstring(); name !== ''; name = r.cstring()) {
      // Which copy the server honours is its business; a gateway that inspected the other one
      // would be checking the wrong value, so duplicates are refused outright.
      if (Object.hasOwn(parameters, name)) invalid('duplicate parameter');
      parameters[name] = r.cstring();
    }
    return { type: 'StartupMessage', protocolVersion, parameters };
  });
}
