/** JSON schemas shared by the authenticated admin routes. */

export const errorSchema = {
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' } },
  required: ['error', 'message'],
} as const;

/** OpenAPI security requirement: the bearer scheme declared in admin-server.ts. */
export const bearerSecurity = [{ bearerAuth: [] }];
