/**
 * @module protocols/postgres/codec/backend/portal-suspended
 * PortalSuspended (B): Execute reached its row limit before the portal was exhausted.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PORTALSUSPENDED
 */
import { decodeEmpty, emptyFrame } from '../layout.ts';
import { BackendTag } from '../message-type.ts';

export interface PortalSuspended {
  type: 'PortalSuspended';
}

/*
 * Byte1('s')  Identifies the message as a portal-suspended indicator.
 * Int32(4)    Length of message contents in bytes, including self.
 */
/** Shared by every encode; never write into it. */
export const PORTAL_SUSPENDED_FRAME = emptyFrame(BackendTag.PortalSuspended);

export function encodePortalSuspended(_msg: PortalSuspended): Buffer {
  return PORTAL_SUSPENDED_FRAME;
}

export function decodePortalSuspended(payload: Buffer): PortalSuspended {
  return decodeEmpty('PortalSuspended', payload, { type: 'PortalSuspended' });
}
