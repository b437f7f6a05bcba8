/**
 * Statement facts: what a PostgreSQL statement *does*, derived from the server's own grammar.
 * Policy decides on these facts, never on the SQL text (SECURITY.md §2, R1).
 */

export type Effect =
  | 'read'
  | 'write'
  | 'ddl'
  | 'dcl'
  | 'admin'
  | 'session'
  | 'transaction'
  | 'copy'
  | 'procedural'
  | 'unknown';

export type WriteKind =
  | 'insert'
  | 'update'
  | 'delete'
  | 'merge'
  | 'select_into'
  | 'create_table_as'
  | 'truncate';

/** `none`: no WHERE; `constant_true`: a WHERE that selects every row; `present`: a real predicate. */
export type Predicate = 'none' | 'constant_true' | 'present';

export interface WriteSite {
  kind: WriteKind;
  /** Schema-qualified as written (`public.customers` or `customers`). */
  table: string;
  /** Only for UPDATE and DELETE, where a missing or tautological predicate means "every row". */
  predicate?: Predicate;
}

export interface CopyFact {
  direction: 'from' | 'to';
  /** `stdio` stays on the wire; `file` and `program` act on the database server's host. */
  target: 'stdio' | 'file' | 'program';
  format?: 'text' | 'csv' | 'binary';
}

export type TransactionKind =
  | 'begin'
  | 'start'
  | 'commit'
  | 'rollback'
  | 'savepoint'
  | 'release'
  | 'rollback_to'
  | 'prepare'
  | 'commit_prepared'
  | 'rollback_prepared';

/** SQL-level statement lifecycle: PREPARE/EXECUTE/DEALLOCATE, DECLARE/FETCH/CLOSE, DISCARD. */
export interface PreparedFact {
  action: 'prepare' | 'execute' | 'deallocate' | 'declare' | 'fetch' | 'close' | 'discard';
  /** Statement or cursor name; absent for `DEALLOCATE ALL`, `CLOSE ALL` and DISCARD. */
  name?: string;
  /** For PREPARE and DECLARE: the facts of the inner statement (also merged into the outer facts). */
  inner?: StatementFacts;
}

export interface StatementFacts {
  /** The AST node name of the statement, e.g. `SelectStmt`; `ParseError` when the parser rejected it. */
  kind: string;
  /** Sorted and unique. `unknown` means "could not be judged": deny by default. */
  effects: Effect[];
  writes: WriteSite[];
  tables: { read: string[]; written: string[] };
  /** Every function called anywhere, lower-cased, schema-qualified when written so. */
  functions: string[];
  /** Settings touched; `*` for RESET ALL or a `set_config` whose name is not a constant. */
  settings: string[];
  /** True for DROP, TRUNCATE and ALTER … DROP: statements that destroy objects or data wholesale. */
  destructive: boolean;
  copy?: CopyFact;
  transaction?: TransactionKind;
  prepared?: PreparedFact;
  /** Statement-level node types the walker does not understand (why `unknown` is in effects). */
  unknownNodes?: string[];
  /** The parser's message when the text did not parse. */
  error?: string;
  /**
   * Some fact here depends on the value of a number or string literal (`WHERE 1 = 1` against
   * `WHERE 1 = 2`, `set_config('role', …)`, `EXPLAIN (ANALYZE 'off')`, a parse error's message).
   * The statement cache never shares such facts between texts that differ only in literals.
   */
  literalSensitive?: true;
}
