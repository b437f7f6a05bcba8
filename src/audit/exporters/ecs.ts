/**
 * @module audit/exporters/ecs
 * One chained audit record as an Elastic Common Schema (ECS 8.x) document, nested JSON as Elastic
 * ingests it. The chain fields are kept (`event.sequence`, `event.hash`, `labels.prev_hash`) so a
 * SIEM copy can still be matched against the verified log, and the original event travels whole
 * under `sluice.event`: the ECS fields are an index-friendly view, not a replacement.
 *
 * | Sluice record field                               | ECS field                                  |
 * | ------------------------------------------------- | ------------------------------------------ |
 * | `at`                                              | `@timestamp`                               |
 * | (constant `event`)                                | `event.kind`                               |
 * | `type` (table below)                              | `event.category`, `event.type`             |
 * | `type`                                            | `event.action`                             |
 * | `type`, with `event.decision` or `event.sqlstate` | `event.outcome` (omitted when not known)   |
 * | `seq`                                             | `event.sequence`                           |
 * | `hash`                                            | `event.hash`                               |
 * | `prevHash`                                        | `labels.prev_hash`, `sluice.prev_hash`     |
 * | `event.actor.id`, else `event.requester.id`, else `event.principal.id`, else `event.principalId` | `user.id` |
 * | `event.actor.name`, else `event.requester.name`, else `event.principal.name` | `user.name`     |
 * | `event.actor.sourceAddress`, else `event.sourceAddress` | `source.address`; also `source.ip` when it is an IP address |
 * | `event` (the whole AuditEvent)                    | `sluice.event`                             |
 * | (constants)                                       | `ecs.version` 8.11.0, `event.module` sluice, `event.dataset` sluice.audit |
 *
 * | `type`               | `event.category` | `event.type`                    | `event.outcome`                  |
 * | -------------------- | ---------------- | ------------------------------- | -------------------------------- |
 * | `admin.auth_failed`  | authentication   | start                           | failure                          |
 * | `auth.failed`        | authentication   | start                           | failure                          |
 * | `key.created`        | iam              | creation                        | success                          |
 * | `key.revoked`        | iam              | deletion                        | success                          |
 * | `secret.set`         | configuration    | creation                        | success                          |
 * | `secret.rotated`     | configuration    | change                          | success                          |
 * | `approval.requested` | iam              | info                            | —                                |
 * | `approval.decided`   | iam              | change + allowed / denied       | success (approve) / failure (deny) |
 * | `approval.closed`    | iam              | end                             | —                                |
 * | `approval.used`      | database         | access                          | success                          |
 * | `access.ended`       | session          | end                             | success                          |
 * | `session.opened`     | session          | start                           | success                          |
 * | `session.closed`     | session          | end                             | —                                |
 * | `statement.decided`  | database         | access + allowed (allow, limit) / denied (deny); access (review) | success / failure / — |
 * | `statement.completed`| database         | access                          | success (no sqlstate) / failure  |
 * | `audit.pruned`       | configuration    | deletion                        | success                          |
 * | anything else        | —                | —                               | —                                |
 *
 * docs/audit-ecs.md carries the same tables for operators; keep the two in step.
 */
import { isIP } from 'node:net';
import type { ChainedEvent } from '../chain.ts';

export const ECS_VERSION = '8.11.0';

type Outcome = 'success' | 'failure';

interface Classification {
  readonly category: readonly string[];
  readonly type: readonly string[];
  readonly outcome?: Outcome;
}

/** By record type; some are refined by a field of the event (a decision, an error). */
const CLASSIFICATION: Readonly<
  Record<string, Classification | ((event: Record<string, unknown>) => Classification)>
> = {
  'admin.auth_failed': { category: ['authentication'], type: ['start'], outcome: 'failure' },
  'auth.failed': { category: ['authentication'], type: ['start'], outcome: 'failure' },
  'key.created': { category: ['iam'], type: ['creation'], outcome: 'success' },
  'key.revoked': { category: ['iam'], type: ['deletion'], outcome: 'success' },
  'secret.set': { category: ['configuration'], type: ['creation'], outcome: 'success' },
  'secret.rotated': { category: ['configuration'], type: ['change'], outcome: 'success' },
  'approval.requested': { category: ['iam'], type: ['info'] },
  'approval.decided': (event) => decided(['iam'], ['change'], event.decision, 'approve', 'deny'),
  'approval.closed': { category: ['iam'], type: ['end'] },
  'approval.used': { category: ['database'], type: ['access'], outcome: 'success' },
  'access.ended': { category: ['session'], type: ['end'], outcome: 'success' },
  'session.opened': { category: ['session'], type: ['start'], outcome: 'success' },
  'session.closed': { category: ['session'], type: ['end'] },
  'audit.pruned': { category: ['configuration'], type: ['deletion'], outcome: 'success' },
  // A limit lets the statement run (capped); a review holds it, undecided yet.
  'statement.decided': (event) =>
    decided(['database'], ['access'], event.decision === 'limit' ? 'allow' : event.decision, 'allow', 'deny'),
  'statement.completed': (event) => ({
    category: ['database'],
    type: ['access'],
    outcome: event.sqlstate === null ? 'success' : 'failure',
  }),
};

/** `allowed`/success for the approving decision, `denied`/failure for the refusing one. */
function decided(
  category: readonly string[],
  type: readonly string[],
  decision: unknown,
  allow: string,
  deny: string,
): Classification {
  if (decision === allow) return { category, type: [...type, 'allowed'], outcome: 'success' };
  if (decision === deny) return { category, type: [...type, 'denied'], outcome: 'failure' };
  return { category, type };
}

/** The record's event as an object, or an empty one: stored events may have any JSON shape. */
function fields(event: unknown): Record<string, unknown> {
  return typeof event === 'object' && event !== null && !Array.isArray(event)
    ? (event as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function classify(type: string, event: Record<string, unknown>): Classification | undefined {
  const entry = CLASSIFICATION[type];
  return typeof entry === 'function' ? entry(event) : entry;
}

/** Who the record is about: the actor that did it, else the requester or session principal. */
function user(event: Record<string, unknown>): Record<string, string> | undefined {
  const who = fields(event.actor ?? event.requester ?? event.principal);
  const id = text(who.id) ?? text(event.principalId);
  const name = text(who.name);
  if (id === undefined && name === undefined) return undefined;
  return { ...(id === undefined ? {} : { id }), ...(name === undefined ? {} : { name }) };
}

/** `source.ip` is an ECS ip field, which rejects anything else; `source.address` takes any text. */
function source(event: Record<string, unknown>): Record<string, string> | undefined {
  const address = text(fields(event.actor).sourceAddress) ?? text(event.sourceAddress);
  if (address === undefined) return undefined;
  return isIP(address) === 0 ? { address } : { address, ip: address };
}

export function toEcs(record: ChainedEvent): Record<string, unknown> {
  const event = fields(record.event);
  const classification = classify(record.type, event);
  const who = user(event);
  const from = source(event);
  return {
    '@timestamp': record.at,
    ecs: { version: ECS_VERSION },
    event: {
      kind: 'event',
      ...(classification === undefined
        ? {}
        : { category: [...classification.category], type: [...classification.type] }),
      action: record.type,
      ...(classification?.outcome === undefined ? {} : { outcome: classification.outcome }),
      sequence: record.seq,
      hash: record.hash,
      module: 'sluice',
      dataset: 'sluice.audit',
    },
    ...(who === undefined ? {} : { user: who }),
    ...(from === undefined ? {} : { source: from }),
    labels: { prev_hash: record.prevHash },
    sluice: { event: record.event, prev_hash: record.prevHash },
  };
}
