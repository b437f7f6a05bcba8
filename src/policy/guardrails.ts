/**
 * @module policy/guardrails
 * The presets every policy starts with (SECURITY.md §2). Each one names a class of statement that
 * is dangerous whatever the caller intended, and is on (`deny`) unless a policy relaxes it to
 * `review` or `allow`. Pure: each check reads statement facts and returns a reason, or nothing.
 */
import type { StatementFacts } from '../sql/postgres/index.ts';
import type { NameMatcher } from './glob.ts';
import { restrictiveFunctionMatcher, tableMatcher } from './names.ts';
import type { GuardrailSpec } from './statement-policy.ts';

export const GUARDRAIL_NAMES = [
  'destructiveDdl',
  'unboundedWrites',
  'serverCopy',
  'functionCall',
  'sideEffectFunctions',
  'protectedSettings',
  'twoPhaseCommit',
  'listenNotify',
  'doBlocks',
  'procedureCalls',
  'routineDefinitions',
  'derivedTables',
  'privileges',
  'serverAdministration',
  'valueCatalogs',
] as const;

export type GuardrailName = (typeof GUARDRAIL_NAMES)[number];

/** Every guardrail on (`deny`), with no exceptions: what a policy gets unless it says otherwise. */
export function defaultGuardrails(): Record<GuardrailName, GuardrailSpec> {
  const all = {} as Record<GuardrailName, GuardrailSpec>;
  for (const name of GUARDRAIL_NAMES) all[name] = { action: 'deny', except: [] };
  return all;
}

/** Guardrails whose `except` list names functions, procedures or settings the policy exempts. */
export const GUARDRAILS_WITH_EXCEPTIONS: ReadonlySet<GuardrailName> = new Set([
  'sideEffectFunctions',
  'procedureCalls',
  'protectedSettings',
]);

/**
 * Functions that act outside the statement's own rows: the server's files, other sessions, other
 * databases, server state, or SQL hidden in a string. Matched on the last name part, so a
 * schema prefix does not hide them.
 */
export const SIDE_EFFECT_FUNCTIONS: Readonly<Record<string, string>> = {
  // Files and programs on the database host
  pg_read_file: 'reads files on the database server',
  pg_read_binary_file: 'reads files on the database server',
  'pg_ls_*': 'lists directories on the database server',
  pg_stat_file: 'reads file metadata on the database server',
  'pg_file_*': 'writes files on the database server',
  'lo_*': 'moves data through large objects and server files',
  loread: 'reads large objects',
  lowrite: 'writes large objects',
  pg_import_system_collations: 'changes the catalog from server files',
  // Other databases and hidden SQL
  'dblink*': 'runs SQL on another connection, outside this session and its checks',
  'query_to_xml*': 'runs SQL given as a string, out of the gateway’s sight',
  query_to_xmlschema: 'runs SQL given as a string, out of the gateway’s sight',
  'cursor_to_xml*': 'reads a cursor the gateway cannot see',
  'table_to_xml*': 'reads a whole table named in a string',
  'schema_to_xml*': 'reads every table of a schema named in a string',
  'database_to_xml*': 'reads every table of the database',
  // Other sessions and server state
  pg_terminate_backend: 'ends other sessions',
  pg_cancel_backend: 'cancels other sessions’ statements',
  pg_reload_conf: 'reloads the server configuration',
  'pg_rotate_logfile*': 'rotates the server log',
  pg_promote: 'promotes a standby',
  pg_switch_wal: 'changes server WAL state',
  pg_create_restore_point: 'changes server WAL state',
  'pg_backup_*': 'changes server backup state',
  pg_start_backup: 'changes server backup state',
  pg_stop_backup: 'changes server backup state',
  'pg_*_replication_slot*': 'changes replication state',
  'pg_replication_origin_*': 'changes replication state',
  pg_logical_emit_message: 'writes to the WAL stream',
  'pg_wal_replay_*': 'changes standby replay',
  'pg_stat_reset*': 'erases server statistics',
  pg_log_backend_memory_contexts: 'writes other sessions’ state to the server log',
  // Session state by another spelling, sequences, covert channels and denial of service
  set_config: 'changes settings, like SET',
  setval: 'moves a sequence, which no rollback undoes',
  pg_notify: 'sends a notification to other sessions',
  'pg_sleep*': 'holds the connection for as long as it asks',
};

const sideEffect = Object.entries(SIDE_EFFECT_FUNCTIONS).map(
  ([pattern, why]) => [restrictiveFunctionMatcher([pattern]), why] as const,
);

/**
 * Settings that change how the server parses text (the session-setting differential), who the
 * session is, where unqualified names resolve, or the limits an administrator set. `*` is RESET
 * ALL, DISCARD ALL, or a `set_config` whose name is not a constant.
 */
export const PROTECTED_SETTINGS: Readonly<Record<string, string>> = {
  standard_conforming_strings: 'changes how the server parses string literals',
  backslash_quote: 'changes how the server parses string literals',
  escape_string_warning: 'changes how the server parses string literals',
  client_encoding: 'changes how the server decodes the text it receives',
  names: 'changes how the server decodes the text it receives',
  role: 'changes the session’s privileges',
  session_authorization: 'changes the session’s privileges',
  search_path: 'changes which objects unqualified names resolve to',
  session_replication_role: 'disables triggers and foreign-key checks',
  row_security: 'changes row-level security',
  default_transaction_read_only: 'changes read-only enforcement',
  transaction_read_only: 'changes read-only enforcement',
  '*timeout*': 'lifts a limit the administrator set',
  '*': 'may change any setting, including the protected ones',
};

const protectedSettings = Object.entries(PROTECTED_SETTINGS).map(([pattern, why]) => ({
  match: pattern === '*' ? (s: string) => s === '*' : restrictiveFunctionMatcher([pattern]),
  why,
}));

const ROUTINE_DEFINITIONS = new Set([
  'CreateFunctionStmt',
  'AlterFunctionStmt',
  'RuleStmt',
  'CreateTrigStmt',
  'CreateEventTrigStmt',
  'AlterEventTrigStmt',
  'CreatePLangStmt',
  'CreateTransformStmt',
]);

const SERVER_ADMINISTRATION = new Set(['AlterSystemStmt', 'LoadStmt', 'CheckPointStmt']);

/**
 * System views that hold *values* of other tables or other sessions' SQL: column statistics
 * (most common values, histogram bounds: real card numbers and SSNs), running and prepared
 * statements with their literals. Matched in any schema, since a view of the same name elsewhere
 * is no better.
 */
const VALUE_CATALOGS = tableMatcher([
  'pg_stats',
  'pg_stats_ext',
  'pg_stats_ext_exprs',
  'pg_statistic',
  'pg_statistic_ext_data',
  'pg_stat_activity',
  'pg_prepared_statements',
  'pg_cursors',
  'pg_stat_statements',
]);

/** How the caller wrote it, for the refusal message (the node name means little to a caller). */
const DESTRUCTIVE_COMMANDS: Readonly<Record<string, string>> = {
  DropStmt: 'DROP',
  TruncateStmt: 'TRUNCATE',
  AlterTableStmt: 'ALTER … DROP',
  DropdbStmt: 'DROP DATABASE',
  DropRoleStmt: 'DROP ROLE',
  DropOwnedStmt: 'DROP OWNED',
  DropSubscriptionStmt: 'DROP SUBSCRIPTION',
  DropTableSpaceStmt: 'DROP TABLESPACE',
  DropUserMappingStmt: 'DROP USER MAPPING',
};

type Check = (facts: StatementFacts, except: NameMatcher) => string | undefined;

const first = <T>(items: readonly T[], reason: (item: T) => string | undefined): string | undefined => {
  for (const item of items) {
    const found = reason(item);
    if (found !== undefined) return found;
  }
  return undefined;
};

/** Statement-level checks; `functionCall` is judged on the FunctionCall message, not on SQL. */
export const GUARDRAIL_CHECKS: Readonly<Record<Exclude<GuardrailName, 'functionCall'>, Check>> = {
  destructiveDdl: (f) =>
    f.destructive
      ? `${DESTRUCTIVE_COMMANDS[f.kind] ?? f.kind} destroys objects or data wholesale`
      : undefined,
  unboundedWrites: (f) =>
    first(f.writes, (w) => {
      if (w.predicate === 'none') return `${w.kind.toUpperCase()} of "${w.table}" has no WHERE clause`;
      if (w.predicate === 'constant_true')
        return `${w.kind.toUpperCase()} of "${w.table}" has a WHERE clause that is always true`;
      return undefined;
    }),
  serverCopy: (f) =>
    f.copy !== undefined && f.copy.target !== 'stdio'
      ? `COPY ${f.copy.direction.toUpperCase()} a ${f.copy.target} acts on the database server's host`
      : undefined,
  sideEffectFunctions: (f, except) =>
    first(f.functions, (name) => {
      if (except(name)) return undefined;
      const hit = sideEffect.find(([match]) => match(name));
      return hit === undefined ? undefined : `function ${name}() ${hit[1]}`;
    }),
  protectedSettings: (f, except) =>
    first(f.settings, (name) => {
      if (except(name)) return undefined;
      const hit = protectedSettings.find((s) => s.match(name));
      return hit === undefined
        ? undefined
        : name !== '*'
          ? `setting "${name}" ${hit.why}`
          : f.kind === 'VariableSetStmt' || f.kind === 'DiscardStmt'
            ? `${f.kind} resets every setting at once`
            : `a set_config() whose setting name is not a constant ${hit.why}`;
    }),
  twoPhaseCommit: (f) =>
    f.transaction === 'prepare' ||
    f.transaction === 'commit_prepared' ||
    f.transaction === 'rollback_prepared'
      ? 'two-phase commit keeps a transaction alive beyond the session and its checks'
      : undefined,
  listenNotify: (f) =>
    f.kind === 'ListenStmt' || f.kind === 'NotifyStmt'
      ? 'LISTEN and NOTIFY are a channel between sessions'
      : undefined,
  doBlocks: (f) => (f.kind === 'DoStmt' ? 'a DO block runs code the gateway cannot inspect' : undefined),
  procedureCalls: (f, except) =>
    f.kind === 'CallStmt' && !(f.functions.length > 0 && f.functions.every(except))
      ? `CALL ${f.functions[0] ?? ''} runs a procedure whose body the gateway cannot inspect`
      : undefined,
  routineDefinitions: (f) =>
    ROUTINE_DEFINITIONS.has(f.kind)
      ? `${f.kind} defines code that later runs out of the gateway's sight`
      : undefined,
  derivedTables: (f) =>
    f.kind === 'ViewStmt' || f.writes.some((w) => w.kind === 'select_into' || w.kind === 'create_table_as')
      ? 'creating a table or view from a query copies data out from under its table rules'
      : undefined,
  privileges: (f) => (f.effects.includes('dcl') ? `${f.kind} changes roles or privileges` : undefined),
  serverAdministration: (f) =>
    SERVER_ADMINISTRATION.has(f.kind) ? `${f.kind} changes the database server itself` : undefined,
  valueCatalogs: (f) =>
    first([...f.tables.read, ...f.tables.written], (table) =>
      VALUE_CATALOGS(table)
        ? `${table} holds values of other tables or other sessions' SQL (statistics, running statements)`
        : undefined,
    ),
};
