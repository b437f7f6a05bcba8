/**
 * @module protocols/postgres/codec/backend/authentication
 * Authentication (B): every authentication request and outcome shares the tag 'R' and is told apart by its first Int32, so the whole family is one union with one encode/decode pair.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONOK
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, writeNonEmptyCString } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

/** The Int32 after the length. */
export const AuthenticationCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

export interface AuthenticationOk {
  type: 'AuthenticationOk';
}

export interface AuthenticationCleartextPassword {
  type: 'AuthenticationCleartextPassword';
}

export interface AuthenticationMD5Password {
  type: 'AuthenticationMD5Password';
  /** Exactly 4 bytes. */
  salt: Buffer;
}

export interface AuthenticationSASL {
  type: 'AuthenticationSASL';
  /** In the server's order of preference. */
  mechanisms: string[];
}

export interface AuthenticationSASLContinue {
  type: 'AuthenticationSASLContinue';
  data: Buffer;
}

export interface AuthenticationSASLFinal {
  type: 'AuthenticationSASLFinal';
  data: Buffer;
}

/**
 * KerberosV5, GSS, GSSContinue, SSPI and any code this codec does not know. The gateway refuses
 * these, but it must still be able to read them to say why.
 */
export interface AuthenticationOther {
  type: 'AuthenticationOther';
  code: number;
  data: Buffer;
}

export type Authentication =
  | AuthenticationOk
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal
  | AuthenticationOther;

const MD5_SALT_LENGTH = 4;

/** Codes that have their own message type, so AuthenticationOther must not claim them. */
const TYPED_CODES: ReadonlySet<number> = new Set([
  AuthenticationCode.Ok,
  AuthenticationCode.CleartextPassword,
  AuthenticationCode.MD5Password,
  AuthenticationCode.SASL,
  AuthenticationCode.SASLContinue,
  AuthenticationCode.SASLFinal,
]);

/*
 * Every variant starts:
 * Byte1('R')  Identifies the message as an authentication request.
 * Int32       Length of message contents in bytes, including self.
 * Int32       The authentication code:
 *   0   AuthenticationOk: authentication was successful. No further fields.
 *   2   AuthenticationKerberosV5. No further fields.
 *   3   AuthenticationCleartextPassword: a clear-text password is required. No further fields.
 *   5   AuthenticationMD5Password: an MD5-encrypted password is required.
 *       Byte4   The salt to use when encrypting the password.
 *   7   AuthenticationGSS. No further fields.
 *   8   AuthenticationGSSContinue.
 *       Byten   GSSAPI or SSPI authentication data.
 *   9   AuthenticationSSPI. No further fields.
 *   10  AuthenticationSASL: SASL authentication is required. The message body is a list of SASL
 *       authentication mechanisms, in the server's order of preference. A zero byte is required
 *       as terminator after the last authentication mechanism name. For each mechanism:
 *       String  Name of a SASL authentication mechanism.
 *   11  AuthenticationSASLContinue.
 *       Byten   SASL data, specific to the SASL mechanism being used.
 *   12  AuthenticationSASLFinal: SASL authentication has completed.
 *       Byten   SASL outcome "additional data", specific to the SASL mechanism being used.
 */
export function encodeAuthentication(msg: Authentication): Buffer {
  const writer = new ByteWriter(32);
  switch (msg.type) {
    case 'AuthenticationOk':
      writer.int32(AuthenticationCode.Ok);
      break;
    case 'AuthenticationCleartextPassword':
      writer.int32(AuthenticationCode.CleartextPassword);
      break;
    case 'AuthenticationMD5Password':
      if (msg.salt.length !== MD5_SALT_LENGTH) throw new RangeError('MD5 salt must be 4 bytes');
      writer.int32(AuthenticationCode.MD5Password).bytes(msg.salt);
      break;
    case 'AuthenticationSASL':
      writer.int32(AuthenticationCode.SASL);
      for (const mechanism of msg.mechanisms) writeNonEmptyCString(writer, mechanism, 'SASL mechanism');
      writer.uint8(0);
      break;
    case 'AuthenticationSASLContinue':
      writer.int32(AuthenticationCode.SASLContinue).bytes(msg.data);
      break;
    case 'AuthenticationSASLFinal':
      writer.int32(AuthenticationCode.SASLFinal).bytes(msg.data);
      break;
    case 'AuthenticationOther':
      // Writing a typed code here would produce a message that decodes as something else.
      if (TYPED_CODES.has(msg.code)) throw new RangeError(`authentication code ${msg.code} has its own type`);
      writer.int32(msg.code).bytes(msg.data);
      break;
  }
  return writer.finish(BackendTag.Authentication);
}

export function decodeAuthentication(payload: Buffer): Authentication {
  return decodeWith('Authentication', payload, (r): Authentication => {
    const code = r.int32();
    switch (code) {
      case AuthenticationCode.Ok:
        return { type: 'AuthenticationOk' };
      case AuthenticationCode.CleartextPassword:
        return { type: 'AuthenticationCleartextPassword' };
      case AuthenticationCode.MD5Password:
        return { type: 'AuthenticationMD5Password', salt: r.bytes(MD5_SALT_LENGTH) };
      case AuthenticationCode.SASL: {
        const mechanisms: string[] = [];
        for (let name = r.cstring(); name !== ''; name = r.cstring()) mechanisms.push(name);
        return { type: 'AuthenticationSASL', mechanisms };
      }
      case AuthenticationCode.SASLContinue:
        return { type: 'AuthenticationSASLContinue', data: r.rest() };
      case AuthenticationCode.SASLFinal:
        return { type: 'AuthenticationSASLFinal', data: r.rest() };
      default:
        return { type: 'AuthenticationOther', code, data: r.rest() };
    }
  });
}
