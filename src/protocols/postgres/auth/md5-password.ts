/**
 * @module protocols/postgres/auth/md5-password
 * PostgreSQL's legacy MD5 challenge answer: "md5" + md5(md5(password + user) + salt).
 * Kept because older upstreams still demand it; `auth.require: scram-sha-256` refuses it.
 */
import { createHash } from 'node:crypto';

function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export function md5PasswordResponse(user: string, password: string, salt: Buffer): string {
  const inner = md5Hex(password + user);
  return `md5${md5Hex(Buffer.concat([Buffer.from(inner, 'utf8'), salt]))}`;
}
