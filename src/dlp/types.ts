/**
 * @module Shared types of the DLP module. The public API is re-exported from `index.ts`.
 */

export type DetectorName = 'card' | 'email' | 'ssn' | 'phone' | 'iban' | 'secret';
export type MaskerName = 'redact' | 'partial' | 'hash' | 'email' | 'null';

/**
 * One span a detector found, as UTF-16 offsets into the text it was given: [start, end).
 * `label` names what was found for `[REDACTED:<label>]`: the detector name, or the secret kind.
 */
export interface Match {
  readonly start: number;
  readonly end: number;
  readonly label: string;
}
