/**
 * @module protocols/postgres/codec/backend/empty-query-response
 * EmptyQueryResponse (B): the response to an empty query string, in place of CommandComplete.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-EMPTYQUERYRESPONSE
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface EmptyQueryResponse {
  type: 'EmptyQueryResponse';
}

/*
 * Byte1('I')  Identifies the message as a response to an empty query string.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const EMPTY_QUERY_RESPONSE_FRAME = emptyFrame(BackendTag.EmptyQueryResponse);

export function encodeEmptyQueryResponse(_msg: EmptyQueryResponse): Buffer {
  return EMPTY_QUERY_RESPONSE_FRAME;
}

export function decodeEmptyQueryResponse(payload: Buffer): EmptyQueryResponse {
  return decodeEmpty('EmptyQueryResponse', payload, { type: 'EmptyQueryResponse' });
}
