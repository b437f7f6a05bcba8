/**
 * @module policy/names
 * How policy patterns meet the names a statement uses. Statement facts keep names as written
 * (`customers`, `public.customers`, `pg_catalog.pg_read_file`); policies speak in patterns.
 *
 * Restrictive matching (deny, review, guardrails) errs towards matching: a function pattern
 * matches the last name part whatever the schema, and a bare table pattern matches the table in
 * any schema. Permissive matching (allow rules, exceptions) errs the other way: a qualified name
 * must match a qualified pattern.
 */
import { compileGlobs, type NameMatcher } from './glob.ts';

/**
 * `db.schema.table` → `schema.table`. An unqualified name is resolved as the server does with the
 * default search path, which sessions cannot change (the `protectedSettings` guardrail):
 * `pg_catalog` first for `pg_*` names, then `public`.
 */
export function qualifiedTable(name: string): string {
  const parts = name.split('.');
  if (parts.length >= 2) return parts.slice(-2).join('.');
  return name.startsWith('pg_') ? `pg_catalog.${name}` : `public.${name}`;
}

/** Matches table patterns: `customers` (any schema), `public.*`, `*.secrets`. */
export function tableMatcher(patterns: readonly string[]): NameMatcher {
  const bare = compileGlobs(patterns.filter((p) => !p.includes('.')));
  const qualified = compileGlobs(patterns.filter((p) => p.includes('.')));
  return (name) => {
    const full = qualifiedTable(name);
    return qualified(full) || bare(full.slice(full.indexOf('.') + 1));
  };
}

const lastPart = (name: string): string => name.slice(name.lastIndexOf('.') + 1);

/** For deny lists: `pg_read_file` also catches `pg_catalog.pg_read_file` and `x.pg_read_file`. */
export function restrictiveFunctionMatcher(patterns: readonly string[]): NameMatcher {
  const bare = compileGlobs(patterns.filter((p) => !p.includes('.')));
  const qualified = compileGlobs(patterns.filter((p) => p.includes('.')));
  return (name) => bare(lastPart(name)) || qualified(name);
}

/** For allow lists: `count` allows `count` and `pg_catalog.count`, never `evil.count`. */
export function permissiveFunctionMatcher(patterns: readonly string[]): NameMatcher {
  const match = compileGlobs(patterns);
  return (name) => match(name.startsWith('pg_catalog.') ? name.slice('pg_catalog.'.length) : name);
}
