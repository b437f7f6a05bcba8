/**
 * @module api/admin-server
 * The admin HTTP server: liveness and readiness probes, Prometheus metrics, and the OpenAPI
 * document of everything it serves. Every route declares a JSON schema; @fastify/swagger turns
 * those into `/api/v1/openapi.json`, so a route added to {@link ROUTE_GROUPS} is documented
 * without further work.
 */
import type { AddressInfo } from 'node:net';
import fastifySwagger from '@fastify/swagger';
import {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  fastify,
  LogController,
} from 'fastify';
import type { Approvals } from '../approvals/approvals.ts';
import type { AuditSink } from '../audit/events.ts';
import type { Logger } from '../core/logger.ts';
import type { PrometheusMetrics } from '../gateway/prometheus-metrics.ts';
import type { Store } from '../store/store.ts';
import type { Vault } from '../vault/index.ts';
import { type AdminAuthOptions, type AuthHook, adminAuthHook, principalAuthHook } from './admin-auth.ts';
import { approvalRoutes } from './approval-routes.ts';
import { keyRoutes } from './key-routes.ts';
import { secretRoutes } from './secret-routes.ts';
import { sessionRoutes } from './session-routes.ts';

export type ReadinessCheck = { ok: boolean; detail?: string };
export type Readiness = { ok: boolean; checks: Record<string, ReadinessCheck> };

export interface AdminServerOptions {
  host: string;
  /** 0 picks a free port; read the actual one from the returned `address`. */
  port: number;
  metrics: PrometheusMetrics;
  /** Asked on every `/readyz`; each check names a dependency (store, listeners…). */
  readiness: () => Promise<Readiness>;
  logger: Logger;
  version: string;
  /** The authenticated administration endpoints; absent, only probes, metrics and OpenAPI. */
  api?: AdminApi;
}

export interface AdminApi {
  readonly auth: AdminAuthOptions;
  readonly store: Store;
  /** Where session previews too large for their record are kept (audit.recordings.dir). */
  readonly recordingsDir: string;
  /** Absent when no master key is configured; the secrets endpoints then answer 503. */
  readonly vault: Vault | undefined;
  readonly audit: AuditSink;
  /** The approval workflow; absent, the approval and access-request endpoints are not served. */
  readonly approvals?: Approvals;
}

export interface RunningAdminServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** One group of related routes. */
type RouteGroup = (app: FastifyInstance, options: AdminServerOptions) => void;

const checksSchema = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: { ok: { type: 'boolean' }, detail: { type: 'string' } },
    required: ['ok'],
  },
} as const;

const readinessSchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['ready', 'unavailable'] }, checks: checksSchema },
  required: ['status', 'checks'],
} as const;

function probeRoutes(app: FastifyInstance, options: AdminServerOptions): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['probes'],
        summary: 'Liveness: the process is up and serving HTTP',
        response: {
          200: {
            description: 'The process is alive',
            type: 'object',
            properties: { status: { type: 'string', const: 'ok' } },
            required: ['status'],
          },
        },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['probes'],
        summary: 'Readiness: every dependency the gateway needs answers',
        response: {
          200: { description: 'Every check passed', ...readinessSchema },
          503: { description: 'At least one check failed; `checks` says which', ...readinessSchema },
        },
      },
    },
    async (_request: FastifyRequest, reply: FastifyReply) => {
      let readiness: Readiness;
      try {
        readiness = await options.readiness();
      } catch (error) {
        // A probe that throws is itself a failed check; the orchestrator should see 503, not 500.
        app.log.warn({ err: error }, 'readiness probe failed');
        readiness = { ok: false, checks: { readiness: { ok: false, detail: (error as Error).message } } };
      }
      return reply
        .code(readiness.ok ? 200 : 503)
        .send({ status: readiness.ok ? 'ready' : 'unavailable', checks: readiness.checks });
    },
  );
}

function metricsRoutes(app: FastifyInstance, options: AdminServerOptions): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'],
        summary: 'Prometheus metrics in the text exposition format',
        response: {
          200: {
            description: 'Prometheus text format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
        },
      },
    },
    async (_request: FastifyRequest, reply: FastifyReply) => {
      const text = await options.metrics.render();
      return reply.type(options.metrics.registry.contentType).send(text);
    },
  );
}

function openApiRoutes(app: FastifyInstance): void {
  app.get(
    '/api/v1/openapi.json',
    {
      schema: {
        tags: ['api'],
        summary: 'This document: the OpenAPI 3.1 description of the admin API',
        response: {
          200: { description: 'An OpenAPI 3.1 document', type: 'object', additionalProperties: true },
        },
      },
    },
    async () => app.swagger(),
  );
}

/**
 * One encapsulated scope behind an auth hook, so the hook cannot leak onto other routes. The hook
 * runs on request, before the body is parsed or validated: an unauthenticated caller learns nothing
 * about a route's schema.
 */
function authenticatedScope(
  app: FastifyInstance,
  hook: AuthHook,
  routes: (scope: FastifyInstance) => void,
): void {
  void app.register(async (scope) => {
    scope.addHook('onRequest', hook);
    routes(scope);
  });
}

/** Keys and secrets: admin group only. */
function administrationRoutes(app: FastifyInstance, options: AdminServerOptions): void {
  const api = options.api;
  if (!api) return;
  authenticatedScope(app, adminAuthHook(api.auth), (scope) => {
    keyRoutes(scope, api);
    sessionRoutes(scope, api);
    secretRoutes(scope, api);
  });
}

/**
 * Approvals and access requests: any authenticated principal, because approvers (e.g. `dba`) and
 * requesting agents are usually not admins. The approval service decides who may see or decide what.
 */
function workflowRoutes(app: FastifyInstance, options: AdminServerOptions): void {
  const api = options.api;
  const approvals = api?.approvals;
  if (!api || !approvals) return;
  authenticatedScope(app, principalAuthHook(api.auth), (scope) => approvalRoutes(scope, approvals));
}

/** Registered in order. */
const ROUTE_GROUPS: readonly RouteGroup[] = [
  probeRoutes,
  metricsRoutes,
  openApiRoutes,
  administrationRoutes,
  workflowRoutes,
];

/**
 * Probes and scrapes arrive every few seconds; at info level they would drown every other log
 * line, so per-request lines go to debug. Failed requests are still logged as errors.
 */
class DebugRequestLogs extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (error)
      reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

/**
 * Starts the admin server and resolves once it is listening.
 *
 * @example
 * const admin = await startAdminServer({ host: '127.0.0.1', port: 0, metrics, readiness, logger, version });
 * await fetch(`http://127.0.0.1:${admin.address.port}/healthz`);
 */
export async function startAdminServer(options: AdminServerOptions): Promise<RunningAdminServer> {
  // Widened to fastify's logger interface so route groups take a plain FastifyInstance.
  const loggerInstance: FastifyBaseLogger = options.logger;
  const app = fastify({ loggerInstance, logController: new DebugRequestLogs() });
  try {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Sluice admin API',
          version: options.version,
          description: 'Health, readiness and metrics of a Sluice gateway, and its administration API.',
        },
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description:
                'A Sluice API key or OIDC token; keys and secrets need a principal in the admin group',
            },
          },
        },
      },
    });
    for (const group of ROUTE_GROUPS) group(app, options);
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const { address, port } = app.server.address() as AddressInfo;
  return {
    address: { host: address, port },
    close: () => app.close(),
  };
}
