/**
 * @module gateway/upstream-query
 * The gateway's own short queries to an upstream (catalog reads, row estimates), over its own
 * login: the same connection settings, TLS and SCRAM rules as sessions.
 */
import { decodeDataRow } from '../protocols/postgres/codec/backend/data-row.ts';
import { decodeErrorResponse } from '../protocols/postgres/codec/backend/error-response.ts';
import { encodeFrontendMessage, type FrontendMessage } from '../protocols/postgres/codec/frontend/index.ts';
import { BackendTag } from '../protocols/postgres/codec/message-type.ts';
import type { UpstreamTarget } from '../protocols/postgres/ports.ts';
import { connectUpstream } from '../protocols/postgres/upstream.ts';

export type TextRow = readonly (string | null)[];

export interface UpstreamQueryOptions {
  /** Covers the login and the query. */
  readonly timeoutMs: number;
  readonly applicationName: string;
  /** Extra startup parameters, e.g. `default_transaction_read_only`. */
  readonly settings?: Readonly<Record<string, string>> | undefined;
}

/**
 * Sends `messages` (ending in Sync, or a simple Query) on a fresh connection and resolves with
 * the text rows once the server is ready again; rejects on the first ErrorResponse.
 */
export async function queryUpstream(
  target: UpstreamTarget,
  messages: readonly FrontendMessage[],
  options: UpstreamQueryOptions,
): Promise<TextRow[]> {
  const upstream = await connectUpstream(target, {
    startupParameters: {
      client_encoding: 'UTF8',
      standard_conforming_strings: 'on',
      application_name: options.applicationName,
      ...options.settings,
    },
    timeoutMs: options.timeoutMs,
    maxMessageBytes: 64 * 1024 * 1024,
  });
  const { socket, framer } = upstream;
  try {
    return await new Promise<TextRow[]>((resolve, reject) => {
      const rows: TextRow[] = [];
      let failure: Error | undefined;
      const timer = setTimeout(() => reject(new Error('query timed out')), options.timeoutMs);
      const onData = (chunk?: Buffer) => {
        if (chunk) framer.push(chunk);
        for (let frame = framer.next(); frame; frame = framer.next()) {
          if (frame.tag === BackendTag.DataRow) {
            rows.push(
              decodeDataRow(frame.payload).values.map((v) => (v === null ? null : v.toString('utf8'))),
            );
          } else if (frame.tag === BackendTag.ErrorResponse) {
            failure ??= new Error(decodeErrorResponse(frame.payload).fields.M ?? 'query failed');
          } else if (frame.tag === BackendTag.ReadyForQuery) {
            clearTimeout(timer);
            if (failure) reject(failure);
            else resolve(rows);
          }
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('connection closed')));
      socket.write(Buffer.concat(messages.map((m) => encodeFrontendMessage(m))));
      socket.resume();
      onData();
    });
  } finally {
    socket.end(encodeFrontendMessage({ type: 'Terminate' }));
    socket.destroySoon();
  }
}
