/**
 * @module protocols/postgres/codec/backend/negotiate-protocol-version
 * NegotiateProtocolVersion (B): the server does not support the requested minor version or some _pq_ options.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NEGOTIATEPROTOCOLVERSION
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, invalid } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface NegotiateProtocolVersion {
  type: 'NegotiateProtocolVersion';
  newestMinorVersion: number;
  /** Option names from the StartupMessage that the server did not recognize. */
  unrecognizedOptions: string[];
}

/*
 * Byte1('v')  Identifies the message as a protocol version negotiation message.
 * Int32       Length of message contents in bytes, including self.
 * Int32       Newest minor protocol version supported by the server for the major protocol
 *             version requested by the client.
 * Int32       Number of protocol options not recognized by the server.
 * Then, for protocol option not recognized by the server, there is the following:
 * String      The option name.
 */
export function encodeNegotiateProtocolVersion(msg: NegotiateProtocolVersion): Buffer {
  const writer = new ByteWriter(32).int32(msg.newestMinorVersion).int32(msg.unrecognizedOptions.length);
  for (const option of msg.unrecognizedOptions) writer.cstring(option);
  return writer.finish(BackendTag.NegotiateProtocolVersion);
}

export function decodeNegotiateProtocolVersion(payload: Buffer): NegotiateProtocolVersion {
  return decodeWith('NegotiateProtocolVersion', payload, (r) => {
    const newestMinorVersion = r.int32();
    const count = r.int32();
    if (count < 0) invalid('negative option count');
    const unrecognizedOptions: string[] = [];
    // Each option takes at least one byte, so a count larger than what is left fails on the
    // first missing string instead of looping up to 2^31 times.
    for (let i = 0; i < count; i++) unrecognizedOptions.push(r.cstring());
    return { type: 'NegotiateProtocolVersion', newestMinorVersion, unrecognizedOptions };
  });
}
