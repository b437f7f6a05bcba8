/**
 * @module protocols/postgres/codec/frontend/cancel-request
 * CancelRequest (F): untagged; sent on a new connection to cancel a query on another one.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, invalid, readSecretKey, writeSecretKey } from '../layout.ts';

export interface CancelRequest {
  type: 'CancelRequest';
  processId: number;
  /** 4 bytes on protocol 3.0, 4..256 bytes on 3.2. A credential: never log it. */
  secretKey: Buffer;
}

/** 1234 in the high 16 bits, 5678 in the low 16. */
export const CANCEL_REQUEST_CODE = 80877102;

/*
 * Int32            Length of message contents in bytes, including self.
 * Int32(80877102)  The cancel request code. The value is chosen to contain 1234 in the most
 *                  significant 16 bits, and 5678 in the least significant 16 bits.
 * Int32            The process ID of the target backend.
 * Byten            The secret key for the target backend. This field extends to the end of the
 *                  message, indicated by the length field. The maximum key length is 256 bytes.
 */
export function encodeCancelRequest(msg: CancelRequest): Buffer {
  const writer = new ByteWriter(8 + msg.secretKey.length).int32(CANCEL_REQUEST_CODE).int32(msg.processId);
  writeSecretKey(writer, msg.secretKey);
  return writer.finish();
}

export function decodeCancelRequest(payload: Buffer): CancelRequest {
  return decodeWith('CancelRequest', payload, (r) => {
    if (r.int32() !== CANCEL_REQUEST_CODE) invalid('wrong request code');
    const processId = r.int32();
    return { type: 'CancelRequest', processId, secretKey: readSecretKey(r) };
  });
}
