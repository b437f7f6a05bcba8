import type { StatementFacts } from './facts.ts';
import { fingerprint } from './fingerprint.ts';
import { analyze } from './index.ts';

export interface StatementAnalyzerOptions {
  /** Entries kept per key space (exact text, fingerprint); least recently used go first. */
  maxEntries?: number;
  /** Longer texts (UTF-8 bytes) are analyzed every time and never stored. */
  maxTextBytes?: number;
}

export interface StatementAnalyzerStats {
  /** Answered from the exact text. */
  hits: number;
  /** Answered from a text that differed only in literal values. */
  fingerprintHits: number;
  /** Parsed and walked. */
  misses: number;
  /** Entries held, both key spaces together. */
  size: number;
}

export interface StatementAnalyzer {
  /** Same answer as `analyze(sql)`, deep-frozen: it is shared with every later caller. */
  analyze(sql: string): readonly StatementFacts[];
  stats(): StatementAnalyzerStats;
}

/**
 * `analyze` with two bounded LRU caches in front: one keyed by the exact text, and one keyed by
 * the literal-free `fingerprint`, which holds only results that no literal value influenced
 * (`literalSensitive` on no statement). A gateway sees the same few statement shapes with new
 * literals each time, and must not pay a parse for each.
 */
export function createStatementAnalyzer(options: StatementAnalyzerOptions = {}): StatementAnalyzer {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxTextBytes = options.maxTextBytes ?? 64 * 1024;
  const exact = new Map<string, readonly StatementFacts[]>();
  const shapes = new Map<string, readonly StatementFacts[]>();
  let hits = 0;
  let fingerprintHits = 0;
  let misses = 0;

  return {
    analyze(sql) {
      if (tooLong(sql, maxTextBytes)) {
        misses++;
        return deepFreeze(analyze(sql));
      }
      const known = touch(exact, sql);
      if (known !== undefined) {
        hits++;
        return known;
      }
      const key = fingerprint(sql);
      const shared = key === undefined ? undefined : touch(shapes, key);
      if (shared !== undefined) {
        fingerprintHits++;
        return shared;
      }
      misses++;
      const facts = deepFreeze(analyze(sql));
      store(exact, sql, facts, maxEntries);
      if (key !== undefined && !facts.some((f) => f.literalSensitive === true))
        store(shapes, key, facts, maxEntries);
      return facts;
    },
    stats() {
      return { hits, fingerprintHits, misses, size: exact.size + shapes.size };
    },
  };
}

/** UTF-8 takes at most 3 bytes per UTF-16 code unit, so most texts need no byte count. */
function tooLong(sql: string, maxBytes: number): boolean {
  if (sql.length > maxBytes) return true;
  return sql.length * 3 > maxBytes && Buffer.byteLength(sql, 'utf8') > maxBytes;
}

/** A hit moves to the back of the Map's insertion order, which is the recency order. */
function touch<V>(map: Map<string, V>, key: string): V | undefined {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

function store<V>(map: Map<string, V>, key: string, value: V, maxEntries: number): void {
  if (maxEntries <= 0) return;
  map.set(key, value);
  while (map.size > maxEntries) {
    const oldest = map.keys().next();
    if (oldest.done === true) break;
    map.delete(oldest.value);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
