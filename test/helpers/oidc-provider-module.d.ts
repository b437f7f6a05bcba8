/**
 * The few parts of `oidc-provider` (which ships no types) that test/helpers/oidc-provider.ts uses.
 * The Provider is a Koa application; `callback()` is its Node request handler.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>);
    readonly issuer: string;
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
  }
}
