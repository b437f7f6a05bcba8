/**
 * @module api/approval-routes
 * `/api/v1/approvals` (statements held for review) and `/api/v1/access-requests` (time-boxed access
 * to a connection). The routes only translate HTTP to {@link Approvals} calls made as the bearer's
 * principal; who may see, decide or revoke what is the service's rule, and its
 * {@link ApprovalError}s become status codes here. The service also emits the audit events.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  type AccessRequestRecord,
  ApprovalError,
  type ApprovalErrorCode,
  type ApprovalRequestRecord,
  type Approvals,
  type StatementApprovalRecord,
} from '../approvals/approvals.ts';
import { parseDuration } from '../core/duration.ts';
import type { RequestFilter, RequestStatus } from '../store/store.ts';
import { requestPrincipal } from './admin-auth.ts';
import { bearerSecurity, errorSchema } from './schemas.ts';

const STATUS_CODES: Readonly<Record<ApprovalErrorCode, number>> = {
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  invalid: 400,
};

/** A record, so adding a status to the store's type fails to compile until it is listed here. */
const REQUEST_STATUSES: Readonly<Record<RequestStatus, true>> = {
  pending: true,
  approved: true,
  denied: true,
  expired: true,
  withdrawn: true,
  consumed: true,
  revoked: true,
};
const STATUSES = Object.keys(REQUEST_STATUSES) as RequestStatus[];
const STATUS_ALTERNATIVES = STATUSES.join('|');

const text = { type: 'string' } as const;
const nullableText = { type: ['string', 'null'] } as const;
const texts = { type: 'array', items: text } as const;
/** ISO 8601 timestamps; null when the event has not happened. */
const date = { type: 'string', description: 'ISO 8601' } as const;
const nullableDate = { type: ['string', 'null'], description: 'ISO 8601' } as const;
/** A justification: required where given, and not just blanks. */
const reasonText = { type: 'string', minLength: 1, pattern: '\\S' } as const;

const requesterSchema = {
  type: 'object',
  properties: {
    id: text,
    name: text,
    kind: text,
    groups: texts,
    claims: { type: 'object', additionalProperties: true },
  },
  required: ['id', 'name', 'kind', 'groups', 'claims'],
} as const;

const decisionSchema = {
  type: 'object',
  properties: {
    approverId: text,
    approverName: text,
    decision: { type: 'string', enum: ['approve', 'deny'] },
    reason: text,
    at: date,
  },
  required: ['approverId', 'approverName', 'decision', 'reason', 'at'],
} as const;

const commonProperties = {
  id: text,
  status: { type: 'string', enum: STATUSES },
  requester: requesterSchema,
  connection: text,
  policy: text,
  reason: text,
  requiredApprovals: { type: 'integer' },
  approverGroups: texts,
  stepUpMs: { type: ['integer', 'null'], description: 'Approvers must have authenticated this recently' },
  decisions: { type: 'array', items: decisionSchema },
  statusReason: nullableText,
  createdAt: date,
  expiresAt: date,
  decidedAt: nullableDate,
} as const;

function recordSchema(kind: ApprovalRequestRecord['kind'], own: Record<string, object>) {
  const properties = { ...commonProperties, kind: { type: 'string', const: kind }, ...own };
  return { type: 'object', properties, required: Object.keys(properties) };
}

const statementSchema = recordSchema('statement', {
  mode: { type: 'string', enum: ['hold', 'ticket'] },
  rule: text,
  statement: { type: 'string', description: 'Canonical SQL, literals masked, control characters escaped' },
  parameters: { ...texts, description: '$1, $2… masked and escaped' },
  rowEstimate: { type: ['number', 'null'] },
  grantExpiresAt: nullableDate,
  consumedAt: nullableDate,
});

const accessSchema = recordSchema('access', {
  durationMs: { type: 'integer' },
  breakGlass: { type: 'boolean' },
  grantEndsAt: nullableDate,
});

const idParams = { type: 'object', properties: { id: text }, required: ['id'] } as const;

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: {
      type: 'string',
      pattern: `^(${STATUS_ALTERNATIVES})(,(${STATUS_ALTERNATIVES}))*$`,
      description: `Comma-separated, of ${STATUSES.join(', ')}; omitted: every status`,
    },
    connection: text,
    limit: { type: 'integer', minimum: 1, maximum: 1000, description: 'Default 100' },
  },
} as const;

const optionalReasonBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: text },
} as const;

const requiredReasonBody = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: reasonText },
  required: ['reason'],
} as const;

const accessRequestBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    connection: { type: 'string', minLength: 1 },
    duration: { type: 'string', description: 'How long the grant lasts once approved, e.g. 30m or 2h' },
    reason: reasonText,
    policy: { type: 'string', minLength: 1, description: 'Needed only when several grant policies fit' },
    breakGlass: { type: 'boolean', description: "Self-approve under the policy's break-glass setting" },
  },
  required: ['connection', 'duration', 'reason'],
} as const;

/** The success schema plus the error answers the route can give. */
function responses(success: Record<number, object>, errors: readonly ApprovalErrorCode[]) {
  return {
    ...success,
    ...Object.fromEntries(errors.map((code) => [STATUS_CODES[code], errorSchema])),
  };
}

function iso(date: Date | null): string | null {
  return date?.toISOString() ?? null;
}

/** Dates as ISO strings; never the binding hash, the redacted form or the holding replica. */
function commonView(record: ApprovalRequestRecord) {
  return {
    id: record.id,
    status: record.status,
    requester: record.requester,
    connection: record.connection,
    policy: record.policy,
    reason: record.reason,
    requiredApprovals: record.requiredApprovals,
    approverGroups: record.approverGroups,
    stepUpMs: record.stepUpMs,
    decisions: record.decisions.map((decision) => ({ ...decision, at: decision.at.toISOString() })),
    statusReason: record.statusReason,
    createdAt: record.createdAt.toISOString(),
    expiresAt: record.expiresAt.toISOString(),
    decidedAt: iso(record.decidedAt),
  };
}

function statementView(record: StatementApprovalRecord) {
  return {
    ...commonView(record),
    kind: record.kind,
    mode: record.mode,
    rule: record.rule,
    statement: record.statement,
    parameters: record.parameters,
    rowEstimate: record.rowEstimate,
    grantExpiresAt: iso(record.grantExpiresAt),
    consumedAt: iso(record.consumedAt),
  };
}

function accessView(record: AccessRequestRecord) {
  return {
    ...commonView(record),
    kind: record.kind,
    durationMs: record.durationMs,
    breakGlass: record.breakGlass,
    grantEndsAt: iso(record.grantEndsAt),
  };
}

/** What the API answers for each kind; the CLI reads the same shapes. */
export type StatementApprovalView = ReturnType<typeof statementView>;
export type AccessRequestView = ReturnType<typeof accessView>;
export type RequestView = StatementApprovalView | AccessRequestView;

function viewOf(record: ApprovalRequestRecord): RequestView {
  return record.kind === 'statement' ? statementView(record) : accessView(record);
}

/** The routes both kinds share, under their own path. */
interface Collection {
  readonly kind: ApprovalRequestRecord['kind'];
  readonly path: string;
  readonly tag: string;
  /** For summaries and not-found messages. */
  readonly noun: string;
  readonly schema: object;
}

const STATEMENTS: Collection = {
  kind: 'statement',
  path: '/api/v1/approvals',
  tag: 'approvals',
  noun: 'statement approval',
  schema: statementSchema,
};

const ACCESS: Collection = {
  kind: 'access',
  path: '/api/v1/access-requests',
  tag: 'access requests',
  noun: 'access request',
  schema: accessSchema,
};

type IdRequest<Body = unknown> = FastifyRequest<{ Params: { id: string }; Body: Body }>;

type ListRequest = FastifyRequest<{
  Querystring: { status?: string; connection?: string; limit?: number };
}>;

/** Runs a service call, answering its ApprovalError with the matching status code. */
async function answer(reply: FastifyReply, action: () => Promise<unknown>): Promise<unknown> {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ApprovalError)) throw error;
    return reply.code(STATUS_CODES[error.code]).send({ error: error.code, message: error.message });
  }
}

/**
 * The request, if the viewer may see it and it is of the collection's kind: a decision on an
 * access request must not arrive through the statements path, nor the reverse.
 */
async function find(
  approvals: Approvals,
  request: IdRequest,
  collection: Collection,
): Promise<ApprovalRequestRecord> {
  const record = await approvals.get(requestPrincipal(request), request.params.id);
  if (record.kind !== collection.kind) {
    throw new ApprovalError('not_found', `no ${collection.noun} ${request.params.id}`);
  }
  return record;
}

function filterOf(kind: Collection['kind'], query: ListRequest['query']): RequestFilter {
  const { status, connection, limit } = query;
  return {
    kind,
    ...(status === undefined ? {} : { status: status.split(',') as RequestStatus[] }),
    ...(connection === undefined ? {} : { connection }),
    ...(limit === undefined ? {} : { limit }),
  };
}

function collectionRoutes(app: FastifyInstance, approvals: Approvals, collection: Collection): void {
  const { path, tag, noun, schema } = collection;

  app.get(
    path,
    {
      schema: {
        tags: [tag],
        summary: `List the ${noun}s the caller may see (its own, those it may decide; all for admins)`,
        security: bearerSecurity,
        querystring: listQuery,
        response: { 200: { type: 'array', items: schema } },
      },
    },
    async (request: ListRequest) =>
      (await approvals.list(requestPrincipal(request), filterOf(collection.kind, request.query))).map(viewOf),
  );

  app.get(
    `${path}/:id`,
    {
      schema: {
        tags: [tag],
        summary: `One ${noun}`,
        security: bearerSecurity,
        params: idParams,
        response: responses({ 200: schema }, ['not_found']),
      },
    },
    async (request: IdRequest, reply: FastifyReply) =>
      answer(reply, async () => viewOf(await find(approvals, request, collection))),
  );

  const decisionRoute = (decision: 'approve' | 'deny', body: object, summary: string) =>
    app.post(
      `${path}/:id/${decision}`,
      {
        schema: {
          tags: [tag],
          summary,
          security: bearerSecurity,
          params: idParams,
          body,
          response: responses({ 200: schema }, ['invalid', 'forbidden', 'not_found', 'conflict']),
        },
      },
      async (request: IdRequest<{ reason?: string } | undefined>, reply: FastifyReply) =>
        answer(reply, async () => {
          await find(approvals, request, collection);
          const reason = request.body?.reason ?? '';
          return viewOf(
            await approvals.decide(requestPrincipal(request), request.params.id, decision, reason),
          );
        }),
    );
  decisionRoute(
    'approve',
    optionalReasonBody,
    `Approve a ${noun} as the caller; the answer says whether more approvals are needed`,
  );
  decisionRoute('deny', requiredReasonBody, `Deny a ${noun} as the caller (a reason is required)`);
}

function accessOnlyRoutes(app: FastifyInstance, approvals: Approvals): void {
  app.post(
    ACCESS.path,
    {
      schema: {
        tags: [ACCESS.tag],
        summary: 'Request time-boxed access to a connection under a grant policy',
        security: bearerSecurity,
        body: accessRequestBody,
        response: responses({ 201: accessSchema }, ['invalid', 'forbidden']),
      },
    },
    async (
      request: FastifyRequest<{
        Body: { connection: string; duration: string; reason: string; policy?: string; breakGlass?: boolean };
      }>,
      reply: FastifyReply,
    ) =>
      answer(reply, async () => {
        const { duration, ...input } = request.body;
        const durationMs = parseDuration(duration);
        if (!durationMs) {
          throw new ApprovalError(
            'invalid',
            `invalid duration ${JSON.stringify(duration)}; use e.g. 30m or 2h`,
          );
        }
        const record = await approvals.requestAccess(requestPrincipal(request), { ...input, durationMs });
        return reply.code(201).send(accessView(record));
      }),
  );

  app.post(
    `${ACCESS.path}/:id/revoke`,
    {
      schema: {
        tags: [ACCESS.tag],
        summary: 'End an approved access grant early, closing its sessions (approvers and admins)',
        security: bearerSecurity,
        params: idParams,
        body: requiredReasonBody,
        response: responses({ 200: accessSchema }, ['invalid', 'forbidden', 'not_found', 'conflict']),
      },
    },
    async (request: IdRequest<{ reason: string }>, reply: FastifyReply) =>
      answer(reply, async () => {
        await find(approvals, request, ACCESS);
        return accessView(
          await approvals.revoke(requestPrincipal(request), request.params.id, request.body.reason),
        );
      }),
  );
}

export function approvalRoutes(app: FastifyInstance, approvals: Approvals): void {
  collectionRoutes(app, approvals, STATEMENTS);
  collectionRoutes(app, approvals, ACCESS);
  accessOnlyRoutes(app, approvals);
}
