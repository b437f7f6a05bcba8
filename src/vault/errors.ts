/**
 * @module vault/errors
 * One error type for every vault refusal, with a stable `reason` that callers (CLI, admin API)
 * map to exit codes or HTTP statuses. Messages name secrets and key ids, never values or keys.
 */
import { GatewayError, type GatewayErrorCode } from '../core/errors.ts';

export type VaultErrorReason =
  /** The master key text is not 32 bytes of hex or base64. */
  | 'invalid_master_key'
  /** A secret: reference is used but no master key is configured or in the environment. */
  | 'no_master_key'
  /** The master key is not the one this store's vault was created with. */
  | 'wrong_master_key'
  /** A stored row failed authentication: altered, or moved to another name or version. */
  | 'tampered'
  | 'invalid_name'
  | 'invalid_value'
  | 'not_found'
  | 'already_exists';

const CODES: Readonly<Record<VaultErrorReason, GatewayErrorCode>> = {
  invalid_master_key: 'GW_ERR_CONFIG',
  no_master_key: 'GW_ERR_CONFIG',
  wrong_master_key: 'GW_ERR_CONFIG',
  tampered: 'GW_ERR_STORE',
  invalid_name: 'GW_ERR_CONFIG',
  invalid_value: 'GW_ERR_CONFIG',
  not_found: 'GW_ERR_CONFIG',
  already_exists: 'GW_ERR_CONFIG',
};

export class VaultError extends GatewayError {
  readonly reason: VaultErrorReason;
  constructor(reason: VaultErrorReason, message: string) {
    super(CODES[reason], message);
    this.reason = reason;
  }
}
