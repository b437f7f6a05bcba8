/**
 * @module gateway/catalog
 * The upstream catalog facts column rules need: every user view with its columns and definition,
 * read over the gateway's own login (the same connection settings, TLS and SCRAM rules as
 * sessions), so a view over a sensitive column is masked like the column itself.
 */
import type { UpstreamTarget } from '../protocols/postgres/ports.ts';
import { queryUpstream } from './upstream-query.ts';

export interface CatalogView {
  /** `schema.view`, as policy names resolve tables. */
  readonly name: string;
  readonly columns: readonly string[];
  /** `pg_get_viewdef`: the server's own rendering, so the gateway parses what the server runs. */
  readonly definition: string;
}

const VIEWS_QUERY = `SELECT n.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid),
  (SELECT pg_catalog.json_agg(a.attname ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)::text
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_%'`;

/** Reads the user views of the database behind `target`. */
export async function loadViews(target: UpstreamTarget, timeoutMs: number): Promise<CatalogView[]> {
  const rows = await queryUpstream(target, [{ type: 'Query', query: VIEWS_QUERY }], {
    timeoutMs,
    applicationName: 'sluice-catalog',
  }).catch((error: Error) => {
    throw new Error(`catalog query failed: ${error.message}`);
  });
  return rows.map(([schema, name, definition, columns]) => ({
    name: `${schema ?? ''}.${name ?? ''}`,
    columns: JSON.parse(columns || '[]') as string[],
    definition: definition ?? '',
  }));
}
