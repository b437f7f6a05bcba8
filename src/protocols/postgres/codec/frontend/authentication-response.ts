/**
 * @module protocols/postgres/codec/frontend/authentication-response
 * AuthenticationResponse: any 'p' message before its meaning is known. PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share the tag; which one it is depends on the authentication request the server sent, so the session decodes `data` with the matching decoder.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface AuthenticationResponse {
  type: 'AuthenticationResponse';
  /** The payload after the length; may hold a credential, so never log it. */
  data: Buffer;
}

/*
 * Byte1('p')  Identifies the message as a password, SASL, GSSAPI or SSPI response.
 * Int32       Length of message contents in bytes, including self.
 * Byten       The response; its layout depends on the authentication exchange in progress.
 */
export function encodeAuthenticationResponse(msg: AuthenticationResponse): Buffer {
  return new ByteWriter(msg.data.length).bytes(msg.data).finish(FrontendTag.AuthenticationResponse);
}

export function decodeAuthenticationResponse(payload: Buffer): AuthenticationResponse {
  return decodeWith('AuthenticationResponse', payload, (r) => ({
    type: 'AuthenticationResponse',
    data: r.rest(),
  }));
}
