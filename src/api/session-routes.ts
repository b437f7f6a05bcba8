/**
 * @module api/session-routes
 * `/api/v1/sessions`: the recorded sessions, for the web UI and scripts (admin group only; the
 * same data as `sluice sessions`). A recording is a session's audit records in order: opened,
 * each statement's decision and outcome with the first rows as sent (masked), closed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ChainedEvent } from '../audit/chain.ts';
import { withResolvedPreviews } from '../audit/recording-files.ts';
import type { Store } from '../store/store.ts';
import { bearerSecurity, errorSchema } from './schemas.ts';

const recordSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string' },
    type: { type: 'string' },
    hash: { type: 'string' },
    event: { type: 'object', additionalProperties: true },
  },
  required: ['seq', 'at', 'type', 'hash', 'event'],
} as const;

function view(record: ChainedEvent) {
  return { seq: record.seq, at: record.at, type: record.type, hash: record.hash, event: record.event };
}

export function sessionRoutes(app: FastifyInstance, deps: { store: Store; recordingsDir: string }): void {
  app.get(
    '/api/v1/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Recorded sessions, newest first (their session.opened records)',
        security: bearerSecurity,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            principal: { type: 'string', description: 'a principal id or name' },
            connection: { type: 'string' },
            since: { type: 'string', format: 'date-time' },
            limit: { type: 'integer', minimum: 1, maximum: 1000 },
          },
        },
        response: { 200: { type: 'array', items: recordSchema } },
      },
    },
    async (request: FastifyRequest<{ Querystring: Record<string, string | number | undefined> }>) => {
      const { principal, connection, since, limit } = request.query;
      const records = await deps.store.audit.sessions({
        principal: principal as string | undefined,
        connection: connection as string | undefined,
        sinceAt: since as string | undefined,
        limit: limit as number | undefined,
      });
      return records.map(view);
    },
  );

  app.get(
    '/api/v1/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: "A session's recording: its audit records in order",
        description:
          "Previews kept in recording files are read back into `preview.rows` (with the `file` reference); a file that no longer matches its record's hash, or is absent (retention), gives `preview.problem` (`message`, `missing`) and no rows.",
        security: bearerSecurity,
        params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        response: { 200: { type: 'array', items: recordSchema }, 404: errorSchema },
      },
    },
    async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const records = await deps.store.audit.sessionEvents(request.params.id);
      if (records.length === 0) {
        return reply
          .code(404)
          .send({ error: 'not_found', message: `sluice: no recorded session ${request.params.id}` });
      }
      return (await withResolvedPreviews(deps.recordingsDir, records)).map(view);
    },
  );
}
