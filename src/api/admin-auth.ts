/**
 * @module api/admin-auth
 * Bearer authentication for the administration endpoints. The token is an API key or an OIDC
 * token (the same credentials as the data path), and the principal must be in the admin group.
 * Invalid credentials all get the same 401; a valid non-admin gets 403. Failures go through the
 * same brute-force backoff as logins on the data path, and are audited.
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
    /** Set by the admin auth hook on authenticated routes. */
    adminActor?: AuditActor;
  }
}

const BEARER = /^Bearer ([^\s]+)$/i;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function adminAuthHook(options: AdminAuthOptions) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const credential = BEARER.exec(request.headers.authorization ?? '')?.[1] ?? '';
    const principal: Principal | undefined = credential
      ? await options.authenticator.authenticate(credential)
      : undefined;
    if (!principal) {
      options.audit.emit({ type: 'admin.auth_failed', sourceAddress: request.ip, reason: 'invalid' });
      await sleep(options.failed(request.ip, credential));
      await reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({ error: 'unauthorized', message: 'sluice: a valid admin API key or token is required' });
      return;
    }
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

/** The authenticated actor of a request on a route behind {@link adminAuthHook}. */
export function adminActor(request: FastifyRequest): AuditActor {
  // The hook runs before every route registered behind it; a missing actor is a wiring bug.
  if (!request.adminActor) throw new Error('admin route reached without authentication');
  return request.adminActor;
}
