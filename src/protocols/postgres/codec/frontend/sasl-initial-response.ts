/**
 * @module protocols/postgres/codec/frontend/sasl-initial-response
 * SASLInitialResponse (F): the chosen SASL mechanism and the client-first message.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLINITIALRESPONSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readNullableBytes, writeNullableBytes } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface SASLInitialResponse {
  type: 'SASLInitialResponse';
  mechanism: string;
  /** null when the mechanism sends no initial response (Int32 -1 on the wire). */
  data: Buffer | null;
}

/*
 * Byte1('p')  Identifies the message as an initial SASL response. Note that this is also used for
 *             GSSAPI, SSPI and password response messages. The exact message type is deduced
 *             from the context.
 * Int32       Length of message contents in bytes, including self.
 * String      Name of the SASL authentication mechanism that the client selected.
 * Int32       Length of SASL mechanism specific "Initial Client Response" that follows, or -1 if
 *             there is no Initial Response.
 * Byten       SASL mechanism specific "Initial Response".
 */
export function encodeSASLInitialResponse(msg: SASLInitialResponse): Buffer {
  const writer = new ByteWriter(msg.mechanism.length + 5 + (msg.data?.length ?? 0)).cstring(msg.mechanism);
  writeNullableBytes(writer, msg.data);
  return writer.finish(FrontendTag.AuthenticationResponse);
}

export function decodeSASLInitialResponse(payload: Buffer): SASLInitialResponse {
  return decodeWith('SASLInitialResponse', payload, (r) => {
    const mechanism = r.cstring();
    return { type: 'SASLInitialResponse', mechanism, data: readNullableBytes(r) };
  });
}
