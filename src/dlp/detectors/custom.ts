/**
 * @module Operator-defined patterns, compiled with re2js (a port of RE2): matching is linear in the
 * input whatever the pattern, so a pattern like `(a+)+$` cannot stall the data path. RE2 syntax has no
 * backreferences or lookarounds; such patterns are rejected at load time with the engine's message.
 */
import { RE2JS } from 're2js';
import type { Match } from '../types.ts';

export interface CompiledPattern {
  readonly name: string;
  readonly regex: RE2JS;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** @throws Error naming the pattern when the name is malformed or the pattern does not compile. */
export function compilePattern(name: string, pattern: string): CompiledPattern {
  if (!NAME.test(name)) {
    throw new Error(`DLP custom pattern name ${JSON.stringify(name)} must be 1-64 of [A-Za-z0-9_.-]`);
  }
  let regex: RE2JS;
  try {
    regex = RE2JS.compile(pattern);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`DLP custom pattern "${name}" does not compile (RE2 syntax): ${reason}`);
  }
  if (regex.matches('')) {
    throw new Error(`DLP custom pattern "${name}" matches the empty string`);
  }
  return { name, regex };
}

export function detectCustom(text: string, compiled: CompiledPattern, label: string, out: Match[]): void {
  const matcher = compiled.regex.matcher(text);
  while (matcher.find()) {
    const start = matcher.start();
    const end = matcher.end();
    if (end > start) out.push({ start, end, label });
  }
}
