/**
 * @module Data loss prevention for every text value the gateway sends to a client: result cells,
 * error and notice fields, notifications and COPY lines. Pure: no I/O, no logging, linear time.
 *
 * Detectors (`detectors/*.ts`) find spans; maskers (`maskers.ts`) replace them. Detection runs on a
 * normalized copy of non-ASCII text (NFKC, invisible and bidi characters removed, `normalize.ts`);
 * when that copy differs from the original and anything is found, the whole value is replaced.
 */

export { maskColumnValue } from './maskers.ts';
export {
  type CustomPattern,
  createScanner,
  DEFAULT_DETECTORS,
  maskText,
  type ScannerConfig,
  type ScanResult,
  type TextScanner,
} from './scanner.ts';
export type { DetectorName, MaskerName } from './types.ts';
