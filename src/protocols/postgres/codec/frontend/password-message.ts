/**
 * @module protocols/postgres/codec/frontend/password-message
 * PasswordMessage (F): a cleartext or MD5 password, answering AuthenticationCleartextPassword / MD5Password.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface PasswordMessage {
  type: 'PasswordMessage';
  /** A credential (the gateway's API key or JWT arrives here): never log it. */
  password: string;
}

/*
 * Byte1('p')  Identifies the message as a password response. Note that this is also used for
 *             GSSAPI, SSPI and SASL response messages. The exact message type can be deduced from
 *             the context.
 * Int32       Length of message contents in bytes, including self.
 * String      The password (encrypted, if requested).
 */
export function encodePasswordMessage(msg: PasswordMessage): Buffer {
  return new ByteWriter(msg.password.length + 1)
    .cstring(msg.password)
    .finish(FrontendTag.AuthenticationResponse);
}

export function decodePasswordMessage(payload: Buffer): PasswordMessage {
  return decodeWith('PasswordMessage', payload, (r) => ({ type: 'PasswordMessage', password: r.cstring() }));
}
