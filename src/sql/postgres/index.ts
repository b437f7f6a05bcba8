/**
 * PostgreSQL statement facts (pure: no I/O). Call `initSqlParser()` once at startup; `analyze`
 * then parses with the server's own grammar and never throws: anything it cannot judge comes back
 * with the `unknown` effect.
 */
import type { StatementFacts } from './facts.ts';
import { parsePostgres } from './parser.ts';
import { statementFacts, unknownFacts } from './walk.ts';

export type {
  StatementAnalyzer,
  StatementAnalyzerOptions,
  StatementAnalyzerStats,
} from './cache.ts';
export { createStatementAnalyzer } from './cache.ts';
export type {
  CopyFact,
  Effect,
  Predicate,
  PreparedFact,
  StatementFacts,
  TransactionKind,
  WriteKind,
  WriteSite,
} from './facts.ts';
export { fingerprint } from './fingerprint.ts';
export type { ColumnRef, OutputLineage } from './lineage.ts';
export { lineage, referencedColumns, statementLineage } from './lineage.ts';
export { initSqlParser } from './parser.ts';

/**
 * Facts for each statement in `sql`, in order. An empty result means the text holds no statement
 * (only whitespace, comments or semicolons), which the server answers with EmptyQueryResponse.
 * Text the parser rejects yields a single `ParseError` fact with the `unknown` effect.
 */
export function analyze(sql: string): StatementFacts[] {
  // The library refuses "" itself; PostgreSQL treats it like a comment-only query. Only the server
  // lexer's own whitespace counts here: NBSP and friends must still reach the parser and fail.
  if (/^[ \t\n\r\f]*$/.test(sql)) return [];
  let stmts: ReturnType<typeof parsePostgres>['stmts'];
  try {
    stmts = parsePostgres(sql).stmts;
  } catch (err) {
    return [unknownFacts('ParseError', message(err))];
  }
  return (stmts ?? []).map((raw) => {
    try {
      return raw.stmt === undefined
        ? unknownFacts('Unknown', 'empty statement node')
        : statementFacts(raw.stmt);
    } catch (err) {
      // e.g. a stack overflow on absurdly deep nesting: fail closed rather than throw.
      return unknownFacts(Object.keys(raw.stmt ?? {})[0] ?? 'Unknown', message(err));
    }
  });
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
