/**
 * @module protocols/postgres/codec/frontend/sasl-response
 * SASLResponse (F): a later SASL message from the client (SCRAM client-final).
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLRESPONSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface SASLResponse {
  type: 'SASLResponse';
  data: Buffer;
}

/*
 * Byte1('p')  Identifies the message as a SASL response. Note that this is also used for GSSAPI,
 *             SSPI and password response messages. The exact message type can be deduced from the
 *             context.
 * Int32       Length of message contents in bytes, including self.
 * Byten       SASL mechanism specific message data.
 */
export function encodeSASLResponse(msg: SASLResponse): Buffer {
  return new ByteWriter(msg.data.length).bytes(msg.data).finish(FrontendTag.AuthenticationResponse);
}

export function decodeSASLResponse(payload: Buffer): SASLResponse {
  return decodeWith('SASLResponse', payload, (r) => ({ type: 'SASLResponse', data: r.rest() }));
}
