/**
 * @module cli/option-parsers
 * Option value parsers several commands share (commander calls them with each given value).
 */
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../core/duration.ts';

/** For a repeatable option: each occurrence adds one value. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--since`: an ISO date/time, or a duration back from now (`24h`); as an ISO timestamp. */
export function parseSince(text: string): string {
  const ago = parseDuration(text);
  if (ago !== undefined) return new Date(Date.now() - ago).toISOString();
  const at = new Date(text);
  if (Number.isNaN(at.getTime()))
    throw new InvalidArgumentError('an ISO date/time or a duration such as 24h');
  return at.toISOString();
}
