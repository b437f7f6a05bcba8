/**
 * @module protocols/postgres/codec/frontend/gssenc-request
 * GSSENCRequest (F): untagged; asks for GSSAPI encryption before the StartupMessage.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-GSSENCREQUEST
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, invalid } from '../layout.ts';

export interface GSSENCRequest {
  type: 'GSSENCRequest';
}

/** 1234 in the high 16 bits, 5680 in the low 16. */
export const GSSENC_REQUEST_CODE = 80877104;

/*
 * Int32(8)         Length of message contents in bytes, including self.
 * Int32(80877104)  The GSSAPI Encryption request code. The value is chosen to contain 1234 in the
 *                  most significant 16 bits, and 5680 in the least significant 16 bits.
 */
/** Shared by every encode; never write into it. */
export const GSSENC_REQUEST_FRAME = new ByteWriter(4).int32(GSSENC_REQUEST_CODE).finish();

export function encodeGSSENCRequest(_msg: GSSENCRequest): Buffer {
  return GSSENC_REQUEST_FRAME;
}

export function decodeGSSENCRequest(payload: Buffer): GSSENCRequest {
  return decodeWith('GSSENCRequest', payload, (r) => {
    if (r.int32() !== GSSENC_REQUEST_CODE) invalid('wrong request code');
    return { type: 'GSSENCRequest' };
  });
}
