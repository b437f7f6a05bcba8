/**
 * @module protocols/postgres/codec/frontend/copy-fail
 * CopyFail (F): aborts COPY FROM STDIN with an error message.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYFAIL
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { FrontendTag } from '../message-type.ts';

export interface CopyFail {
  type: 'CopyFail';
  message: string;
}

/*
 * Byte1('f')  Identifies the message as a COPY-failure indicator.
 * Int32       Length of message contents in bytes, including self.
 * String      An error message to report as the cause of failure.
 */
export function encodeCopyFail(msg: CopyFail): Buffer {
  return new ByteWriter(msg.message.length + 1).cstring(msg.message).finish(FrontendTag.CopyFail);
}

export function decodeCopyFail(payload: Buffer): CopyFail {
  return decodeWith('CopyFail', payload, (r) => ({ type: 'CopyFail', message: r.cstring() }));
}
