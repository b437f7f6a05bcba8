/**
 * @module cli/operator
 * Who a CLI command acts as in the audit log. Commands that change the store directly (keys,
 * secrets) record the change in the chain as the admin API would, naming the OS account.
 */
import { userInfo } from 'node:os';
import { type AuditActor, localOperator } from '../audit/events.ts';

export function operator(): AuditActor {
  return localOperator(userInfo().username);
}
