import type { Node, RangeVar, TransactionStmt, VariableSetStmt, WithClause } from '@pgsql/types';
import { STATEMENT_EFFECTS } from './classes.ts';
import type {
  CopyFact,
  Effect,
  PreparedFact,
  StatementFacts,
  TransactionKind,
  WriteKind,
  WriteSite,
} from './facts.ts';
import { classifyPredicate } from './predicate.ts';

/** What one statement's walk has found so far. */
interface Acc {
  kind: string;
  effects: Set<Effect>;
  writes: WriteSite[];
  read: Set<string>;
  written: Set<string>;
  functions: Set<string>;
  settings: Set<string>;
  destructive: boolean;
  unknownNodes: Set<string>;
  /** Some fact above was read from a number or string literal's value (see `StatementFacts`). */
  literalSensitive: boolean;
  copy?: CopyFact;
  transaction?: TransactionKind;
  prepared?: PreparedFact;
}

interface Ctx {
  acc: Acc;
  /** How a bare table reference is used here: DDL targets are written, everything else is read. */
  access: 'read' | 'write';
  /** CTE names in scope: an unqualified reference to one is not a table. */
  ctes: ReadonlySet<string>;
}

type NodeTag = Node extends infer U ? (U extends unknown ? keyof U : never) : never;
type NodeOf<K extends NodeTag> = Extract<Node, { [P in K]: unknown }>[K];
type Handlers = { [K in NodeTag]?: (node: NodeOf<K>, ctx: Ctx) => void };
type Json = Record<string, unknown>;

/** Facts for one parsed statement node (`{ SelectStmt: {...} }`). */
export function statementFacts(stmt: Node): StatementFacts {
  const kind = Object.keys(stmt)[0] ?? 'Unknown';
  const acc = emptyAcc(kind);
  const base = STATEMENT_EFFECTS[kind];
  if (base === undefined) {
    // Fail closed: a statement kind nobody classified is never treated as harmless.
    acc.effects.add('unknown');
    acc.unknownNodes.add(kind);
  } else {
    for (const effect of base) acc.effects.add(effect);
  }
  const isDefinition = base?.includes('ddl') === true || base?.includes('dcl') === true;
  visit(stmt, { acc, access: isDefinition ? 'write' : 'read', ctes: new Set() });
  return finish(acc);
}

/** The single fact for text the parser rejected, or a walk that failed: deny by default. */
export function unknownFacts(kind: string, error: string): StatementFacts {
  const acc = emptyAcc(kind);
  acc.effects.add('unknown');
  // The parser's message quotes the offending token, which may be a literal.
  acc.literalSensitive = true;
  return { ...finish(acc), error };
}

function emptyAcc(kind: string): Acc {
  return {
    kind,
    effects: new Set(),
    writes: [],
    read: new Set(),
    written: new Set(),
    functions: new Set(),
    settings: new Set(),
    destructive: kind.startsWith('Drop'),
    unknownNodes: new Set(),
    literalSensitive: false,
  };
}

function finish(acc: Acc): StatementFacts {
  if (acc.read.size > 0) acc.effects.add('read');
  if (acc.writes.length > 0) acc.effects.add('write');
  const facts: StatementFacts = {
    kind: acc.kind,
    effects: [...acc.effects].sort(),
    writes: acc.writes,
    tables: { read: [...acc.read].sort(), written: [...acc.written].sort() },
    functions: [...acc.functions].sort(),
    settings: [...acc.settings].sort(),
    destructive: acc.destructive,
  };
  if (acc.copy !== undefined) facts.copy = acc.copy;
  if (acc.transaction !== undefined) facts.transaction = acc.transaction;
  if (acc.prepared !== undefined) facts.prepared = acc.prepared;
  if (acc.unknownNodes.size > 0) facts.unknownNodes = [...acc.unknownNodes].sort();
  if (acc.literalSensitive) facts.literalSensitive = true;
  return facts;
}

// ---------------------------------------------------------------------------------------------
// Generic walk: every object and array in the tree is visited, so nothing nested is missed.
// Node wrappers (`{ Tag: {...} }`) go to a handler when one exists; plain structs are recognised
// by shape, because the parser emits RangeVar and FuncCall unwrapped in typed fields
// (`DeleteStmt.relation`, `CallStmt.funccall`).

function visit(value: unknown, ctx: Ctx): void {
  if (Array.isArray(value)) {
    for (const item of value) visit(item, ctx);
    return;
  }
  if (!isJson(value)) return;
  const keys = Object.keys(value);
  const tag = keys[0];
  if (keys.length === 1 && tag !== undefined && /^[A-Z]/.test(tag)) {
    const handler = HANDLERS[tag as NodeTag] as ((node: unknown, ctx: Ctx) => void) | undefined;
    if (handler !== undefined) handler(value[tag], ctx);
    else visit(value[tag], ctx);
    return;
  }
  visitStruct(value, ctx);
}

function visitStruct(value: Json, ctx: Ctx, skip: readonly string[] = []): void {
  if (typeof value.relname === 'string') recordTable(value as RangeVar, ctx.access, ctx);
  if (Array.isArray(value.funcname) && typeof value.funcformat === 'string') recordCall(value, ctx);
  for (const [key, child] of Object.entries(value)) {
    if (skip.includes(key)) continue;
    // A definition's embedded query (CREATE VIEW … AS, CREATE RULE … DO) reads its tables.
    visit(child, key === 'query' || key === 'whereClause' ? { ...ctx, access: 'read' } : ctx);
  }
}

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null;
}

// ---------------------------------------------------------------------------------------------
// Recording

function tableName(rv: RangeVar): string {
  return [rv.catalogname, rv.schemaname, rv.relname].filter((p) => p !== undefined).join('.');
}

function recordTable(rv: RangeVar, access: 'read' | 'write', ctx: Ctx): void {
  const name = tableName(rv);
  if (access === 'read' && rv.schemaname === undefined && ctx.ctes.has(name)) return;
  (access === 'read' ? ctx.acc.read : ctx.acc.written).add(name);
}

function recordWrite(kind: WriteKind, rv: RangeVar | undefined, ctx: Ctx, where?: Node | 'n/a'): void {
  if (rv === undefined) return;
  const site: WriteSite = { kind, table: tableName(rv) };
  if (where !== 'n/a') {
    const { predicate, literalSensitive } = classifyPredicate(where);
    site.predicate = predicate;
    if (literalSensitive) ctx.acc.literalSensitive = true;
  }
  ctx.acc.writes.push(site);
  ctx.acc.written.add(site.table);
}

function recordCall(call: Json, ctx: Ctx): void {
  const parts = (call.funcname as Node[]).map((p) => ('String' in p ? (p.String.sval ?? '') : '?'));
  const name = parts.join('.').toLowerCase();
  ctx.acc.functions.add(name);
  // set_config(name, value, is_local) is SET by another spelling (SECURITY.md §2, session differential).
  if (parts.at(-1)?.toLowerCase() === 'set_config') {
    const first = (call.args as Node[] | undefined)?.[0];
    const isLiteral = first !== undefined && 'A_Const' in first;
    const setting = isLiteral ? first.A_Const.sval?.sval : undefined;
    ctx.acc.settings.add(setting === undefined ? '*' : setting.toLowerCase());
    if (isLiteral) ctx.acc.literalSensitive = true;
  }
}

function recordSetting(set: VariableSetStmt | undefined, ctx: Ctx): void {
  if (set === undefined) return;
  if (set.kind === 'VAR_RESET_ALL') ctx.acc.settings.add('*');
  else if (set.name !== undefined) ctx.acc.settings.add(set.name.toLowerCase());
}

/** Registers the WITH names for the statement's own scope (and its subqueries). */
function scoped(withClause: WithClause | undefined, ctx: Ctx): Ctx {
  const names = (withClause?.ctes ?? []).flatMap((cte) =>
    'CommonTableExpr' in cte && cte.CommonTableExpr.ctename !== undefined
      ? [cte.CommonTableExpr.ctename]
      : [],
  );
  return { ...ctx, access: 'read', ctes: new Set([...ctx.ctes, ...names]) };
}

function merge(into: Acc, inner: StatementFacts): void {
  for (const e of inner.effects) into.effects.add(e);
  into.writes.push(...inner.writes);
  for (const t of inner.tables.read) into.read.add(t);
  for (const t of inner.tables.written) into.written.add(t);
  for (const f of inner.functions) into.functions.add(f);
  for (const s of inner.settings) into.settings.add(s);
  for (const u of inner.unknownNodes ?? []) into.unknownNodes.add(u);
  into.destructive ||= inner.destructive;
  into.literalSensitive ||= inner.literalSensitive === true;
  if (inner.copy !== undefined) into.copy = inner.copy;
  if (inner.prepared !== undefined) into.prepared ??= inner.prepared;
}

function isExplainAnalyze(options: Node[] | undefined, acc: Acc): boolean {
  return (options ?? []).some((o) => {
    if (!('DefElem' in o) || o.DefElem.defname !== 'analyze') return false;
    const arg = o.DefElem.arg;
    // `ANALYZE` alone or `ANALYZE <anything but an explicit false>` executes: fail closed.
    if (arg === undefined) return true;
    // The AST cannot tell `ANALYZE off` from `ANALYZE 'off'` or `ANALYZE 0`: assume a literal.
    acc.literalSensitive = true;
    const word =
      'String' in arg ? arg.String.sval : 'Integer' in arg ? String(arg.Integer.ival ?? 0) : undefined;
    return !['false', 'off', 'no', '0'].includes((word ?? 'true').toLowerCase());
  });
}

function copyFormat(options: Node[] | undefined, acc: Acc): CopyFact['format'] {
  for (const o of options ?? []) {
    if (!('DefElem' in o)) continue;
    const { defname, arg } = o.DefElem;
    // Old syntax spells the format as a bare option (`WITH BINARY`, `CSV`).
    if (defname === 'binary' || defname === 'csv') return defname;
    if (defname === 'format' && arg !== undefined && 'String' in arg) {
      // `FORMAT 'csv'` is a string literal as often as a word.
      acc.literalSensitive = true;
      const f = arg.String.sval?.toLowerCase();
      if (f === 'text' || f === 'csv' || f === 'binary') return f;
    }
  }
  return undefined;
}

const TRANSACTION_KINDS: Readonly<Record<NonNullable<TransactionStmt['kind']>, TransactionKind | undefined>> =
  {
    TRANS_STMT_BEGIN: 'begin',
    TRANS_STMT_START: 'start',
    TRANS_STMT_COMMIT: 'commit',
    TRANS_STMT_ROLLBACK: 'rollback',
    TRANS_STMT_SAVEPOINT: 'savepoint',
    TRANS_STMT_RELEASE: 'release',
    TRANS_STMT_ROLLBACK_TO: 'rollback_to',
    TRANS_STMT_PREPARE: 'prepare',
    TRANS_STMT_COMMIT_PREPARED: 'commit_prepared',
    TRANS_STMT_ROLLBACK_PREPARED: 'rollback_prepared',
  };

// ---------------------------------------------------------------------------------------------
// Handlers: only the node types whose meaning is more than "visit the children".

const HANDLERS: Handlers = {
  SelectStmt(n, ctx) {
    const inner = scoped(n.withClause, ctx);
    if (n.intoClause !== undefined) {
      // SELECT … INTO creates and fills a table.
      recordWrite('select_into', n.intoClause.rel, inner, 'n/a');
      ctx.acc.effects.add('ddl');
    }
    visitStruct(n as Json, inner, ['intoClause']);
  },
  InsertStmt(n, ctx) {
    const inner = scoped(n.withClause, ctx);
    recordWrite('insert', n.relation, inner, 'n/a');
    // ON CONFLICT DO UPDATE updates existing rows (bounded by the rows inserted).
    if (n.onConflictClause?.action === 'ONCONFLICT_UPDATE') recordWrite('update', n.relation, inner, 'n/a');
    visitStruct(n as Json, inner, ['relation']);
  },
  UpdateStmt(n, ctx) {
    const inner = scoped(n.withClause, ctx);
    recordWrite('update', n.relation, inner, n.whereClause);
    visitStruct(n as Json, inner, ['relation']);
  },
  DeleteStmt(n, ctx) {
    const inner = scoped(n.withClause, ctx);
    recordWrite('delete', n.relation, inner, n.whereClause);
    visitStruct(n as Json, inner, ['relation']);
  },
  MergeStmt(n, ctx) {
    const inner = scoped(n.withClause, ctx);
    // The join condition picks the target rows MERGE updates or deletes: `ON true` is all of them.
    recordWrite('merge', n.relation, inner, n.joinCondition);
    visitStruct(n as Json, inner, ['relation']);
  },
  CreateTableAsStmt(n, ctx) {
    recordWrite('create_table_as', n.into?.rel, ctx, 'n/a');
    visitStruct(n as Json, { ...ctx, access: 'read' }, ['into']);
  },
  TruncateStmt(n, ctx) {
    ctx.acc.destructive = true;
    for (const r of n.relations ?? []) if ('RangeVar' in r) recordWrite('truncate', r.RangeVar, ctx, 'n/a');
  },
  DropStmt(n, ctx) {
    ctx.acc.destructive = true;
    if (!TABLE_LIKE.has(n.removeType ?? '')) return;
    // DROP names relations as lists of identifiers, not RangeVars.
    for (const o of n.objects ?? []) {
      if (!('List' in o)) continue;
      const parts = (o.List.items ?? []).flatMap((i) => ('String' in i ? [i.String.sval ?? ''] : []));
      ctx.acc.written.add(parts.join('.'));
    }
  },
  AlterTableStmt(n, ctx) {
    const drops = (n.cmds ?? []).some(
      (c) => 'AlterTableCmd' in c && c.AlterTableCmd.subtype?.startsWith('AT_Drop'),
    );
    if (drops) ctx.acc.destructive = true;
    visitStruct(n as Json, ctx);
  },
  ExplainStmt(n, ctx) {
    if (n.query === undefined) return;
    if (isExplainAnalyze(n.options, ctx.acc)) {
      // Executes: the inner statement's own class counts too (EXPLAIN ANALYZE EXECUTE p, … CREATE TABLE AS).
      merge(ctx.acc, statementFacts(n.query));
      return;
    }
    // Plain EXPLAIN plans without executing: keep what it names, not what it would write.
    const inner = statementFacts(n.query);
    for (const t of [...inner.tables.read, ...inner.tables.written]) ctx.acc.read.add(t);
    for (const f of inner.functions) ctx.acc.functions.add(f);
    for (const u of inner.unknownNodes ?? []) ctx.acc.unknownNodes.add(u);
    if (inner.effects.includes('unknown')) ctx.acc.effects.add('unknown');
    ctx.acc.literalSensitive ||= inner.literalSensitive === true;
  },
  CopyStmt(n, ctx) {
    const fact: CopyFact = {
      direction: n.is_from === true ? 'from' : 'to',
      target: n.is_program === true ? 'program' : n.filename !== undefined ? 'file' : 'stdio',
    };
    const format = copyFormat(n.options, ctx.acc);
    if (format !== undefined) fact.format = format;
    ctx.acc.copy = fact;
    if (n.is_from === true) recordWrite('insert', n.relation, ctx, 'n/a');
    else if (n.relation !== undefined) recordTable(n.relation, 'read', ctx);
    visitStruct(n as Json, { ...ctx, access: 'read' }, ['relation']);
  },
  RefreshMatViewStmt(n, ctx) {
    if (n.relation !== undefined) recordTable(n.relation, 'write', ctx);
  },
  VariableSetStmt(n, ctx) {
    recordSetting(n, ctx);
    visitStruct(n as Json, ctx);
  },
  // ALTER ROLE|DATABASE … SET and ALTER SYSTEM persist a setting for future sessions.
  AlterRoleSetStmt(n, ctx) {
    recordSetting(n.setstmt, ctx);
    visitStruct(n as Json, ctx);
  },
  AlterDatabaseSetStmt(n, ctx) {
    recordSetting(n.setstmt, ctx);
    visitStruct(n as Json, ctx);
  },
  AlterSystemStmt(n, ctx) {
    recordSetting(n.setstmt, ctx);
    visitStruct(n as Json, ctx);
  },
  DiscardStmt(n, ctx) {
    ctx.acc.prepared = { action: 'discard' };
    // DISCARD ALL includes RESET ALL.
    if (n.target === 'DISCARD_ALL') ctx.acc.settings.add('*');
  },
  TransactionStmt(n, ctx) {
    const kind = n.kind === undefined ? undefined : TRANSACTION_KINDS[n.kind];
    if (kind !== undefined) ctx.acc.transaction = kind;
  },
  PrepareStmt(n, ctx) {
    prepareLike('prepare', n.name, n.query, ctx);
    visit(n.argtypes, ctx);
  },
  DeclareCursorStmt(n, ctx) {
    prepareLike('declare', n.portalname, n.query, ctx);
  },
  ExecuteStmt(n, ctx) {
    // Also when nested (EXPLAIN ANALYZE EXECUTE p): what runs is only known from the PREPARE.
    ctx.acc.effects.add('unknown');
    ctx.acc.prepared = named('execute', n.name);
    visit(n.params, ctx);
  },
  DeallocateStmt(n, ctx) {
    ctx.acc.prepared = named('deallocate', n.name);
  },
  FetchStmt(n, ctx) {
    ctx.acc.prepared = named('fetch', n.portalname);
  },
  ClosePortalStmt(n, ctx) {
    ctx.acc.prepared = named('close', n.portalname);
  },
};

const TABLE_LIKE = new Set([
  'OBJECT_TABLE',
  'OBJECT_VIEW',
  'OBJECT_MATVIEW',
  'OBJECT_FOREIGN_TABLE',
  'OBJECT_SEQUENCE',
  'OBJECT_INDEX',
]);

function named(action: PreparedFact['action'], name: string | undefined): PreparedFact {
  return name === undefined ? { action } : { action, name };
}

/**
 * PREPARE and DECLARE keep the inner statement's facts for EXECUTE/FETCH to resolve to, and also
 * merge them into their own facts, so a caller that looks only at the outer effects still sees
 * `PREPARE p AS DELETE …` as a write.
 */
function prepareLike(
  action: 'prepare' | 'declare',
  name: string | undefined,
  query: Node | undefined,
  ctx: Ctx,
) {
  const fact = named(action, name);
  if (query !== undefined) {
    fact.inner = statementFacts(query);
    merge(ctx.acc, fact.inner);
  }
  ctx.acc.prepared = fact;
}
