/**
 * @module protocols/postgres/codec/backend/notification-response
 * NotificationResponse (B): a NOTIFY delivered to a LISTENing session.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NOTIFICATIONRESPONSE
 */
import { ByteWriter } from '../../../../core/bytes/writer.ts';
import { decodeWith } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface NotificationResponse {
  type: 'NotificationResponse';
  /** The notifying backend's process ID: an upstream detail the gateway may want to hide. */
  processId: number;
  channel: string;
  payload: string;
}

/*
 * Byte1('A')  Identifies the message as a notification response.
 * Int32       Length of message contents in bytes, including self.
 * Int32       The process ID of the notifying backend process.
 * String      The name of the channel that the notify has been raised on.
 * String      The "payload" string passed from the notifying process.
 */
export function encodeNotificationResponse(msg: NotificationResponse): Buffer {
  return new ByteWriter(msg.channel.length + msg.payload.length + 6)
    .int32(msg.processId)
    .cstring(msg.channel)
    .cstring(msg.payload)
    .finish(BackendTag.NotificationResponse);
}

export function decodeNotificationResponse(payload: Buffer): NotificationResponse {
  return decodeWith('NotificationResponse', payload, (r) => {
    const processId = r.int32();
    const channel = r.cstring();
    return { type: 'NotificationResponse', processId, channel, payload: r.cstring() };
  });
}
