/**
 * @module api/key-routes
 * `/api/v1/keys`: the same operations as `sluice keys`, for a running gateway (a PGlite store
 * belongs to one process, so the CLI cannot open it while the gateway runs). The plaintext key
 * appears once, in the response to its creation.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type AuditSink, keyCreatedEvent, keyRevokedEvent } from '../audit/events.ts';
import { parseDuration } from '../core/duration.ts';
import { GatewayError } from '../core/errors.ts';
import { createApiKey } from '../identity/api-keys.ts';
import type { ApiKeyRecord, Store } from '../store/store.ts';
import { adminActor } from './admin-auth.ts';
import { bearerSecurity, errorSchema } from './schemas.ts';

const keySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    prefix: { type: 'string' },
    groups: { type: 'array', items: { type: 'string' } },
    createdAt: { type: 'string' },
    expiresAt: { type: ['string', 'null'] },
    revokedAt: { type: ['string', 'null'] },
    lastUsedAt: { type: ['string', 'null'] },
  },
  required: ['id', 'name', 'prefix', 'groups', 'createdAt', 'expiresAt', 'revokedAt', 'lastUsedAt'],
} as const;

function view(record: ApiKeyRecord) {
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    groups: record.groups,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt?.toISOString() ?? null,
    revokedAt: record.revokedAt?.toISOString() ?? null,
    lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
  };
}

export function keyRoutes(app: FastifyInstance, deps: { store: Store; audit: AuditSink }): void {
  app.get(
    '/api/v1/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'List API keys (never the keys themselves)',
        security: bearerSecurity,
        response: { 200: { type: 'array', items: keySchema } },
      },
    },
    async () => (await deps.store.apiKeys.list()).map(view),
  );

  app.post(
    '/api/v1/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'Create an API key; the response is the only time the key is shown',
        security: bearerSecurity,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            groups: { type: 'array', items: { type: 'string' }, minItems: 1 },
            expires: { type: 'string', description: 'Lifetime such as 30d or 12h; omitted: never expires' },
          },
          required: ['name', 'groups'],
        },
        response: {
          201: {
            type: 'object',
            properties: { ...keySchema.properties, key: { type: 'string' } },
            required: [...keySchema.required, 'key'],
          },
          400: errorSchema,
        },
      },
    },
    async (
      request: FastifyRequest<{ Body: { name: string; groups: string[]; expires?: string } }>,
      reply: FastifyReply,
    ) => {
      const { name, groups, expires } = request.body;
      const expiresInMs = expires === undefined ? undefined : parseDuration(expires);
      if (expires !== undefined && !expiresInMs) {
        return reply
          .code(400)
          .send({ error: 'bad_request', message: `invalid lifetime ${JSON.stringify(expires)}` });
      }
      try {
        const { record, key } = await createApiKey(deps.store, { name, groups, expiresInMs });
        deps.audit.emit(keyCreatedEvent(adminActor(request), record));
        return reply.code(201).send({ ...view(record), key });
      } catch (error) {
        if (!(error instanceof GatewayError)) throw error;
        return reply.code(400).send({ error: 'bad_request', message: error.message });
      }
    },
  );

  app.delete(
    '/api/v1/keys/:idOrName',
    {
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key; its live sessions close within identity.revalidateEvery',
        security: bearerSecurity,
        params: { type: 'object', properties: { idOrName: { type: 'string' } }, required: ['idOrName'] },
        response: { 200: keySchema, 404: errorSchema },
      },
    },
    async (request: FastifyRequest<{ Params: { idOrName: string } }>, reply: FastifyReply) => {
      const record = await deps.store.apiKeys.revoke(request.params.idOrName);
      if (!record) return reply.code(404).send({ error: 'not_found', message: 'no such key' });
      deps.audit.emit(keyRevokedEvent(adminActor(request), record));
      return view(record);
    },
  );
}
