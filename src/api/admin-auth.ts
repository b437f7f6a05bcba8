/**
 * @module api/admin-auth
 * Bearer authentication for the administration API. The token is an API key or an OIDC token (the
 * same credentials as the data path). Two hooks share one check: {@link adminAuthHook} also
 * requires the admin group; {@link principalAuthHook} accepts any valid principal, for routes whose
 * callers are approvers and agents (the approval workflow checks who may do what itself). Invalid
 * credentials all get the same 401; a valid non-admin gets 403 on admin routes. Failures go through
 * the same brute-force backoff as logins on the data path, and are audited.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AuditActor, type AuditSink, actorOf } from '../audit/events.ts';
import type { Authenticator, Principal } from '../identity/principal.ts';

export interface AdminAuthOptions {
  readonly authenticator: Authenticator;
  readonly group: string;
  readonly audit: AuditSink;
  /** Returns how long to hold back a failure answer (ms); see identity/auth-throttle. */
  readonly failed: (sourceAddress: string, credential: string) => number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the admin auth hook on administration routes. */
    adminActor?: AuditActor;
    /** Set by the principal auth hook on routes open to any authenticated caller. */
    principal?: Principal;
  }
}

export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

const BEARER = /^Bearer ([^\s]+)$/i;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The bearer's principal, or `undefined` once a 401 has been sent (after the backoff, audited).
 * `credentialKind` words the 401 for the routes behind the hook.
 */
async function authenticate(
  options: AdminAuthOptions,
  credentialKind: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<Principal | undefined> {
  const credential = BEARER.exec(request.headers.authorization ?? '')?.[1] ?? '';
  const principal = credential ? await options.authenticator.authenticate(credential) : undefined;
  if (principal) return principal;
  options.audit.emit({ type: 'admin.auth_failed', sourceAddress: request.ip, reason: 'invalid' });
  await sleep(options.failed(request.ip, credential));
  await reply
    .code(401)
    .header('www-authenticate', 'Bearer')
    .send({ error: 'unauthorized', message: `sluice: a valid ${credentialKind} is required` });
  return undefined;
}

/** Administration routes: the principal must be in the admin group. */
export function adminAuthHook(options: AdminAuthOptions): AuthHook {
  return async (request, reply) => {
    const principal = await authenticate(options, 'admin API key or token', request, reply);
    if (!principal) return;
    if (!principal.groups.includes(options.group)) {
      options.audit.emit({ type: 'admin.auth_failed', sourceAddress: request.ip, reason: 'not_admin' });
      await reply
        .code(403)
        .send({ error: 'forbidden', message: `sluice: "${principal.name}" is not in the admin group` });
      return;
    }
    request.adminActor = actorOf(principal, request.ip);
  };
}

/** Routes open to every authenticated principal; authorization is the route's own business. */
export function principalAuthHook(options: AdminAuthOptions): AuthHook {
  return async (request, reply) => {
    const principal = await authenticate(options, 'API key or token', request, reply);
    if (principal) request.principal = principal;
  };
}

/** The authenticated actor of a request on a route behind {@link adminAuthHook}. */
export function adminActor(request: FastifyRequest): AuditActor {
  // The hook runs before every route registered behind it; a missing actor is a wiring bug.
  if (!request.adminActor) throw new Error('admin route reached without authentication');
  return request.adminActor;
}

/** The authenticated principal of a request on a route behind {@link principalAuthHook}. */
export function requestPrincipal(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('route reached without authentication');
  return request.principal;
}
