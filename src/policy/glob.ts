/**
 * @module policy/glob
 * Name patterns for tables, functions and settings: `*` matches any run of characters and `?` one
 * character; everything else is literal. Compiled once per policy load, never per statement.
 */

export type NameMatcher = (name: string) => boolean;

export function compileGlobs(patterns: readonly string[]): NameMatcher {
  if (patterns.length === 0) return () => false;
  const source = patterns
    .map((p) =>
      p
        .split('')
        .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join(''),
    )
    .join('|');
  const regex = new RegExp(`^(?:${source})$`, 's');
  return (name) => regex.test(name);
}
