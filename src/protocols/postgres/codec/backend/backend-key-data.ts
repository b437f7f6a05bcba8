/**
 * @module protocols/postgres/codec/backend/backend-key-data
 * BackendKeyData (B): the process ID and secret key a client needs to send a CancelRequest.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith, readSecretKey, writeSecretKey } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface BackendKeyData {
  type: 'BackendKeyData';
  processId: number;
  /** 4 bytes on protocol 3.0, 4..256 bytes on 3.2. A credential: never log or forward it as is. */
  secretKey: Buffer;
}

/*
 * Byte1('K')  Identifies the message as cancellation key data. The frontend must save these
 *             values if it wishes to be able to issue CancelRequest messages later.
 * Int32       Length of message contents in bytes, including self.
 * Int32       The process ID of this backend.
 * Byten       The secret key of this backend. This field extends to the end of the message,
 *             indicated by the length field. The maximum key length is 256 bytes.
 */
export function encodeBackendKeyData(msg: BackendKeyData): Buffer {
  const writer = new ByteWriter(4 + msg.secretKey.length).int32(msg.processId);
  writeSecretKey(writer, msg.secretKey);
  return writer.finish(BackendTag.BackendKeyData);
}

export function decodeBackendKeyData(payload: Buffer): BackendKeyData {
  return decodeWith('BackendKeyData', payload, (r) => {
    const processId = r.int32();
    return { type: 'BackendKeyData', processId, secretKey: readSecretKey(r) };
  });
}
