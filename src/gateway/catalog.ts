/**
 * @module gateway/catalog
 * The upstream catalog facts column rules need: every user view with its columns and definition,
 * read over the gateway's own login (the same connection settings, TLS and SCRAM rules as
 * sessions), so a view over a sensitive column is masked like the column itself.
 */
import { decodeDataRow } from '../protocols/postgres/codec/backend/data-row.ts';
import { decodeErrorResponse } from '../protocols/postgres/codec/backend/error-response.ts';
import { encodeFrontendMessage } from '../protocols/postgres/codec/frontend/index.ts';
import { BackendTag } from '../protocols/postgres/codec/message-type.ts';
import type { UpstreamTarget } from '../protocols/postgres/ports.ts';
import { connectUpstream } from '../protocols/postgres/upstream.ts';

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
  const upstream = await connectUpstream(target, {
    startupParameters: {
      client_encoding: 'UTF8',
      standard_conforming_strings: 'on',
      application_name: 'sluice-catalog',
    },
    timeoutMs,
    maxMessageBytes: 64 * 1024 * 1024,
  });
  const { socket, framer } = upstream;
  try {
    return await new Promise<CatalogView[]>((resolve, reject) => {
      const views: CatalogView[] = [];
      const timer = setTimeout(() => reject(new Error('catalog query timed out')), timeoutMs);
      const onData = (chunk?: Buffer) => {
        if (chunk) framer.push(chunk);
        for (let frame = framer.next(); frame; frame = framer.next()) {
          if (frame.tag === BackendTag.DataRow) {
            const [schema, name, definition, columns] = decodeDataRow(frame.payload).values.map((v) =>
              v === null ? '' : v.toString('utf8'),
            );
            views.push({
              name: `${schema}.${name}`,
              columns: JSON.parse(columns || '[]') as string[],
              definition: definition ?? '',
            });
          } else if (frame.tag === BackendTag.ErrorResponse) {
            clearTimeout(timer);
            reject(new Error(`catalog query failed: ${decodeErrorResponse(frame.payload).fields.M ?? ''}`));
          } else if (frame.tag === BackendTag.ReadyForQuery) {
            clearTimeout(timer);
            resolve(views);
          }
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('catalog connection closed')));
      socket.write(encodeFrontendMessage({ type: 'Query', query: VIEWS_QUERY }));
      socket.resume();
      onData();
    });
  } finally {
    socket.end(encodeFrontendMessage({ type: 'Terminate' }));
    socket.destroySoon();
  }
}
