/** Frontend message shorthands for raw-frame tests (all encoded by the gateway's own codec). */
import type { FrontendMessage } from '../../src/protocols/postgres/codec/frontend/index.ts';

export const Q = (query: string): FrontendMessage => ({ type: 'Query', query });

export const P = (name: string, query: string, parameterTypes: number[] = []): FrontendMessage => ({
  type: 'Parse',
  name,
  query,
  parameterTypes,
});

export const B = (
  portal: string,
  statement: string,
  parameters: (string | Buffer | null)[] = [],
  formats: { params?: number[]; results?: number[] } = {},
): FrontendMessage => ({
  type: 'Bind',
  portal,
  statement,
  parameterFormats: formats.params ?? [],
  parameters: parameters.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)),
  resultFormats: formats.results ?? [],
});

export const D = (kind: 'S' | 'P', name = ''): FrontendMessage => ({ type: 'Describe', kind, name });
export const E = (portal = '', maxRows = 0): FrontendMessage => ({ type: 'Execute', portal, maxRows });
export const C = (kind: 'S' | 'P', name = ''): FrontendMessage => ({ type: 'Close', kind, name });
export const S: FrontendMessage = { type: 'Sync' };
export const H: FrontendMessage = { type: 'Flush' };

export const F = (functionOid: number, args: string[] = []): FrontendMessage => ({
  type: 'FunctionCall',
  functionOid,
  argumentFormats: [],
  arguments: args.map((a) => Buffer.from(a, 'utf8')),
  resultFormat: 0,
});
