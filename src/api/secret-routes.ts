/**
 * @module api/secret-routes
 * `/api/v1/secrets`: the vault operations of `sluice secrets`, for a running gateway. Values go
 * in and never come out: responses carry names, versions, dates and key ids only.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditSink } from '../audit/events.ts';
import { VaultError } from '../vault/errors.ts';
import type { Vault } from '../vault/index.ts';
import { adminActor } from './admin-auth.ts';
import { bearerSecurity, errorSchema } from './schemas.ts';

const versionSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, version: { type: 'integer' } },
  required: ['name', 'version'],
} as const;

const valueBody = {
  type: 'object',
  additionalProperties: false,
  properties: { value: { type: 'string', minLength: 1 } },
  required: ['value'],
} as const;

const nameParams = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } as const;

/** Vault refusals as HTTP answers; anything else is a server error. */
const STATUS: Partial<Record<VaultError['reason'], number>> = {
  invalid_name: 400,
  invalid_value: 400,
  not_found: 404,
  already_exists: 409,
};

type ValueRequest = FastifyRequest<{ Params: { name: string }; Body: { value: string } }>;

export function secretRoutes(
  app: FastifyInstance,
  deps: { vault: Vault | undefined; audit: AuditSink },
): void {
  const withVault = async (
    reply: FastifyReply,
    action: (vault: Vault) => Promise<unknown>,
  ): Promise<unknown> => {
    if (!deps.vault) {
      return reply.code(503).send({
        error: 'vault_unavailable',
        message: 'sluice: no master key is configured (vault.masterKey or SLUICE_MASTER_KEY)',
      });
    }
    try {
      return await action(deps.vault);
    } catch (error) {
      const status = error instanceof VaultError ? STATUS[error.reason] : undefined;
      if (status === undefined || !(error instanceof VaultError)) throw error;
      return reply.code(status).send({ error: error.reason, message: error.message });
    }
  };

  app.get(
    '/api/v1/secrets',
    {
      schema: {
        tags: ['secrets'],
        summary: 'List secrets: names, versions, dates and key ids, never values',
        security: bearerSecurity,
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                name: { type: 'string' },
                versions: { type: 'integer' },
                latestVersion: { type: 'integer' },
                createdAt: { type: 'string' },
                updatedAt: { type: 'string' },
                keyId: { type: 'string' },
              },
              required: ['name', 'versions', 'latestVersion', 'createdAt', 'updatedAt', 'keyId'],
            },
          },
          503: errorSchema,
        },
      },
    },
    async (_request, reply) =>
      withVault(reply, async (vault) =>
        (await vault.list()).map((entry) => ({
          ...entry,
          createdAt: entry.createdAt.toISOString(),
          updatedAt: entry.updatedAt.toISOString(),
        })),
      ),
  );

  app.put(
    '/api/v1/secrets/:name',
    {
      schema: {
        tags: ['secrets'],
        summary: 'Create a secret (version 1); use rotate to change an existing one',
        security: bearerSecurity,
        params: nameParams,
        body: valueBody,
        response: { 201: versionSchema, 400: errorSchema, 409: errorSchema, 503: errorSchema },
      },
    },
    async (request: ValueRequest, reply: FastifyReply) =>
      withVault(reply, async (vault) => {
        const version = await vault.set(request.params.name, request.body.value);
        deps.audit.emit({
          type: 'secret.set',
          actor: adminActor(request),
          name: request.params.name,
          version,
        });
        return reply.code(201).send({ name: request.params.name, version });
      }),
  );

  app.post(
    '/api/v1/secrets/:name/rotate',
    {
      schema: {
        tags: ['secrets'],
        summary:
          'Store a new version; new upstream connections use it at once, sessions in flight are unaffected',
        security: bearerSecurity,
        params: nameParams,
        body: valueBody,
        response: { 200: versionSchema, 400: errorSchema, 404: errorSchema, 503: errorSchema },
      },
    },
    async (request: ValueRequest, reply: FastifyReply) =>
      withVault(reply, async (vault) => {
        const version = await vault.rotate(request.params.name, request.body.value);
        deps.audit.emit({
          type: 'secret.rotated',
          actor: adminActor(request),
          name: request.params.name,
          version,
        });
        return { name: request.params.name, version };
      }),
  );
}
