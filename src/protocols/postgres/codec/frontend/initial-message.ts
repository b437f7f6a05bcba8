/**
 * @module protocols/postgres/codec/frontend/initial-message
 * The first untagged message of a connection is told apart by its first Int32: a request code
 * (1234 in the high 16 bits) or a protocol version.
 */
import { ProtocolError } from '../../../../core/errors.ts';
import { unknownMessage } from '../layout.ts';
import {
  CANCEL_REQUEST_CODE,
  type CancelRequest,
  decodeCancelRequest,
  encodeCancelRequest,
} from './cancel-request.ts';
import {
  decodeGSSENCRequest,
  encodeGSSENCRequest,
  GSSENC_REQUEST_CODE,
  type GSSENCRequest,
} from './gssenc-request.ts';
import { decodeSSLRequest, encodeSSLRequest, SSL_REQUEST_CODE, type SSLRequest } from './ssl-request.ts';
import { decodeStartupMessage, encodeStartupMessage, type StartupMessage } from './startup-message.ts';

export type InitialMessage = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest;

/**
 * Decodes the payload (after the Int32 length) of an untagged message. Any 3.x version is a
 * StartupMessage, so the session can answer a newer minor version with NegotiateProtocolVersion;
 * any other code is refused, with the version in the message so the session can word its FATAL.
 */
/**
 * A startup packet with a protocol major version other than 3. Distinct from other malformed
 * input because PostgreSQL answers it with a FATAL error (0A000) instead of just closing.
 */
export class UnsupportedProtocolError extends ProtocolError {
  readonly major: number;
  readonly minor: number;
  constructor(major: number, minor: number) {
    super(`Unsupported frontend protocol ${major}.${minor}`);
    this.major = major;
    this.minor = minor;
  }
}

export function decodeInitialMessage(payload: Buffer): InitialMessage {
  if (payload.length < 4) throw new ProtocolError('Malformed StartupMessage');
  const code = payload.readUInt32BE(0);
  switch (code) {
    case SSL_REQUEST_CODE:
      return decodeSSLRequest(payload);
    case GSSENC_REQUEST_CODE:
      return decodeGSSENCRequest(payload);
    case CANCEL_REQUEST_CODE:
      return decodeCancelRequest(payload);
  }
  const major = code >>> 16;
  if (major === 3) return decodeStartupMessage(payload);
  throw new UnsupportedProtocolError(major, code & 0xffff);
}

export function encodeInitialMessage(msg: InitialMessage): Buffer {
  switch (msg.type) {
    case 'StartupMessage':
      return encodeStartupMessage(msg);
    case 'SSLRequest':
      return encodeSSLRequest(msg);
    case 'GSSENCRequest':
      return encodeGSSENCRequest(msg);
    case 'CancelRequest':
      return encodeCancelRequest(msg);
    default:
      return unknownMessage(msg);
  }
}
