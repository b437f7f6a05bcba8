import type { ParseResult } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';

let loading: Promise<void> | undefined;

/** Loads the PostgreSQL 15 grammar (WASM) once; every later call returns the same promise. */
export function initSqlParser(): Promise<void> {
  loading ??= loadModule();
  return loading;
}

/** Parses with the server's grammar; throws the parser's error on a syntax error or before init. */
export function parsePostgres(sql: string): ParseResult {
  // The library is untyped (`any`); its output is the protobuf JSON that @pgsql/types describes.
  const result: ParseResult = parseSync(sql);
  return result;
}
