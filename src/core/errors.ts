/**
 * @module core/errors
 * Two kinds of failure cross module boundaries:
 * - {@link ProtocolError}: the peer sent bytes we cannot frame or decode. The stream cannot be
 *   resynchronised, so the owning session is destroyed (fatal means dead).
 * - {@link ClientFacingError}: an operator-written refusal that the protocol layer encodes into the
 *   native error frame (SQLSTATE for PostgreSQL). Anything else is internal: logged, never shown.
 */

/** Stable codes; match on `code`, not on the message text. */
export type GatewayErrorCode =
  | 'GW_ERR_PROTOCOL'
  | 'GW_ERR_MESSAGE_TOO_LARGE'
  | 'GW_ERR_CONFIG'
  | 'GW_ERR_STORE'
  | 'GW_ERR_UPSTREAM'
  | 'GW_ERR_CLIENT';

export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  constructor(code: GatewayErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed, oversized or out-of-order bytes from a peer. */
export class ProtocolError extends GatewayError {
  constructor(message: string, code: 'GW_ERR_PROTOCOL' | 'GW_ERR_MESSAGE_TOO_LARGE' = 'GW_ERR_PROTOCOL') {
    super(code, message);
  }
}

/**
 * A refusal meant for the caller. `sqlstate` follows the contract in ARCHITECTURE.md
 * (28P01/28000 auth, 3D000 unknown connection, 42501 policy, 57014 cancel, 53400 limits).
 * `message` must start with `sluice:` and must never contain a credential or a raw value.
 */
export class ClientFacingError extends GatewayError {
  readonly sqlstate: string;
  readonly hint: string | undefined;
  readonly detail: string | undefined;
  constructor(
    sqlstate: string,
    message: string,
    extra: { hint?: string; detail?: string; cause?: unknown } = {},
  ) {
    super('GW_ERR_CLIENT', message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.sqlstate = sqlstate;
    this.hint = extra.hint;
    this.detail = extra.detail;
  }
}
