/**
 * @module protocols/postgres/codec/frontend/ssl-request
 * SSLRequest (F): untagged; asks the server to switch to TLS before the StartupMessage.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SSLREQUEST
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, invalid } from '../layout.ts';

export interface SSLRequest {
  type: 'SSLRequest';
}

/** 1234 in the high 16 bits, 5679 in the low 16, so it can never be a protocol version. */
export const SSL_REQUEST_CODE = 80877103;

/*
 * Int32(8)         Length of message contents in bytes, including self.
 * Int32(80877103)  The SSL request code. The value is chosen to contain 1234 in the most
 *                  significant 16 bits, and 5679 in the least significant 16 bits.
 */
/** Shared by every encode; never write into it. */
export const SSL_REQUEST_FRAME = new ByteWriter(4).int32(SSL_REQUEST_CODE).finish();

export function encodeSSLRequest(_msg: SSLRequest): Buffer {
  return SSL_REQUEST_FRAME;
}

export function decodeSSLRequest(payload: Buffer): SSLRequest {
  return decodeWith('SSLRequest', payload, (r) => {
    if (r.int32() !== SSL_REQUEST_CODE) invalid('wrong request code');
    return { type: 'SSLRequest' };
  });
}
