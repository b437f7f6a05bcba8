/**
 * Name resolution for column lineage, without a catalog. Every answer errs towards "more
 * sources": a name that could belong to several FROM items is reported under each of them, and
 * the caller, which knows the real columns, discards the impossible ones.
 */

/** A set of `table\0column` keys (`column` is `*` for "every column of the table"). */
export type Refs = Set<string>;

export function refKey(table: string, column: string): string {
  return `${table}\u0000${column}`;
}

export function addAll(into: Refs, from: Iterable<string>): void {
  if (into === from) return;
  for (const key of from) into.add(key);
}

export interface Column {
  /** The output name a query above can refer to; undefined when the server would invent one. */
  readonly name: string | undefined;
  readonly refs: Refs;
  /** A table's `*`: one entry here, as many wire columns as the table has. */
  readonly star: boolean;
}

/** What a query yields. `columns` is undefined when their number or order is unknown. */
export interface Relation {
  readonly columns: readonly Column[] | undefined;
  /** Everything any column may derive from. */
  readonly all: Refs;
}

export function relation(columns: readonly Column[] | undefined, extra?: Refs): Relation {
  const all: Refs = new Set(extra);
  for (const c of columns ?? []) addAll(all, c.refs);
  return { columns, all };
}

/** A FROM item, under the names a query may qualify its columns with. */
export type Source =
  | {
      readonly kind: 'table';
      readonly names: readonly string[];
      readonly table: string;
      readonly renamed: ReadonlySet<string>;
    }
  | { readonly kind: 'derived'; readonly names: readonly string[]; readonly rel: Relation }
  | { readonly kind: 'join'; readonly names: readonly string[]; readonly members: readonly Source[] };

/** One query level: its FROM items (filled as FROM is read, which gives LATERAL for free) and WITH names. */
export interface Scope {
  readonly sources: Source[];
  readonly ctes: Map<string, Relation>;
  readonly parent: Scope | undefined;
}

export function childScope(parent: Scope | undefined, sources: Source[] = []): Scope {
  return { sources, ctes: new Map(), parent };
}

export function findCte(scope: Scope | undefined, name: string): Relation | undefined {
  for (let s = scope; s !== undefined; s = s.parent) {
    const rel = s.ctes.get(name);
    if (rel !== undefined) return rel;
  }
  return undefined;
}

/** `certain`: the source surely has the column; `maybe`: it might (a table, whose columns we don't know). */
type Match = 'certain' | 'maybe' | 'no';

function columnOf(source: Source, name: string, into: Refs): Match {
  switch (source.kind) {
    case 'table':
      // `customers AS c(a, b)` renames columns by position, which only the catalog can map back.
      into.add(refKey(source.table, source.renamed.has(name) ? '*' : name));
      return source.renamed.has(name) ? 'certain' : 'maybe';
    case 'derived':
      return derivedColumn(source.rel, name, into);
    case 'join': {
      let best: Match = 'no';
      for (const m of source.members) best = stronger(best, columnOf(m, name, into));
      return best;
    }
  }
}

function derivedColumn(rel: Relation, name: string, into: Refs): Match {
  const named = rel.columns?.filter((c) => c.name === name) ?? [];
  for (const c of named) addAll(into, c.refs);
  if (named.length > 0) return 'certain';
  // Columns whose names we could not tell (a star, `?column?`, a function's composite) may be it.
  if (rel.columns === undefined || rel.columns.some((c) => c.name === undefined)) {
    addAll(into, rel.all);
    return 'maybe';
  }
  return 'no';
}

function stronger(a: Match, b: Match): Match {
  if (a === 'certain' || b === 'certain') return 'certain';
  return a === 'maybe' || b === 'maybe' ? 'maybe' : 'no';
}

/** Whole-row value of a FROM item (`SELECT c FROM customers c`, `to_jsonb(c)`, `c.*`). */
export function wholeRow(source: Source, into: Refs): void {
  switch (source.kind) {
    case 'table':
      into.add(refKey(source.table, '*'));
      return;
    case 'derived':
      addAll(into, source.rel.all);
      return;
    case 'join':
      for (const m of source.members) wholeRow(m, into);
  }
}

/**
 * An unqualified name: every FROM item of the innermost level that may own it; outer levels too
 * (a correlated reference) until one level surely owns it. A FROM item of that very name may be
 * meant as a whole row. Returns false when nothing could own it.
 */
export function resolveBare(scope: Scope, name: string, into: Refs): boolean {
  let found = false;
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    let level: Match = 'no';
    for (const source of s.sources) {
      level = stronger(level, columnOf(source, name, into));
      if (source.names.includes(name)) {
        wholeRow(source, into);
        level = stronger(level, 'maybe');
      }
    }
    found ||= level !== 'no';
    if (level === 'certain') break;
  }
  return found;
}

/** The innermost FROM item called `qualifier` (an alias, a table name or a schema-qualified one). */
export function findSource(scope: Scope, qualifier: string): Source | undefined {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    const source = s.sources.find((src) => src.names.includes(qualifier));
    if (source !== undefined) return source;
  }
  return undefined;
}

/** `q.column`; a derived item without that name gives everything it may hold. */
export function resolveQualified(source: Source, column: string, into: Refs): void {
  if (columnOf(source, column, into) === 'no') wholeRow(source, into);
}

/** `*` or `q.*` in a target list: the item's columns in order, undefined when their number is unknown. */
export function expand(source: Source): Column[] | undefined {
  switch (source.kind) {
    case 'table':
      return [{ name: undefined, refs: new Set([refKey(source.table, '*')]), star: true }];
    case 'derived':
      return source.rel.columns === undefined ? undefined : [...source.rel.columns];
    case 'join': {
      const parts = source.members.map(expand);
      return parts.some((p) => p === undefined) ? undefined : parts.flatMap((p) => p ?? []);
    }
  }
}

/** `AS s(a, b)` renames a derived item's columns by position (when their positions are known). */
export function renamed(rel: Relation, names: readonly string[]): Relation {
  if (names.length === 0) return rel;
  const columns = rel.columns;
  if (columns === undefined || columns.some((c) => c.star)) return relation(undefined, rel.all);
  return relation(columns.map((c, i) => ({ ...c, name: names[i] ?? c.name })));
}
