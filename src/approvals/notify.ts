/**
 * @module approvals/notify
 * Webhook notifications for approval events: signed JSON for any receiver, or Slack incoming-webhook
 * messages with Approve and Deny buttons. The only I/O of the approvals module: everything else here
 * is pure body construction (signing and the POST itself are core/delivery).
 *
 * A body carries only fields named in {@link ApprovalNotice}, picked one by one, and of the
 * statement only its literal-free `redactedStatement`: a notification leaves the gateway for chat
 * systems and third parties, where a SQL literal (a card number, a password) must never go.
 *
 * Webhook URLs are credentials (a Slack URL's path is its secret), so logs name a target by its
 * origin only, and a failure by its error code or name, never by a message that may quote the URL.
 */
import { Backoff, delivered, postWithRetries } from '../core/delivery.ts';
import type { Logger } from '../core/logger.ts';

export interface WebhookTarget {
  readonly url: string;
  readonly format: 'json' | 'slack';
  /** HMAC-SHA256 key for the signature headers; required for `json`, optional for `slack`. */
  readonly secret?: Buffer | undefined;
}

export type ApprovalEvent =
  | 'approval.requested'
  | 'approval.approved'
  | 'approval.denied'
  | 'approval.expired'
  | 'approval.withdrawn'
  | 'access.requested'
  | 'access.approved'
  | 'access.denied'
  | 'access.break_glass'
  | 'access.expired'
  | 'access.revoked';

export interface ApprovalNotice {
  readonly event: ApprovalEvent;
  readonly id: string;
  readonly kind: 'statement' | 'access';
  readonly requester: { readonly id: string; readonly name: string; readonly kind: string };
  readonly connection: string;
  readonly policy: string;
  /** The review reason (statements) or the access justification. */
  readonly reason: string;
  /** Statements only: the literal-free form from `viewStatement(...).redacted`. */
  readonly redactedStatement?: string | undefined;
  readonly rowEstimate?: number | null | undefined;
  /** Access requests only. */
  readonly durationMs?: number | undefined;
  /** ISO 8601. */
  readonly expiresAt: string;
  readonly links: { readonly show: string; readonly approve: string; readonly deny: string };
  /** Commands an approver can paste, e.g. `sluice approvals approve ID`. */
  readonly cli: { readonly approve: string; readonly deny: string };
}

/** The signed JSON body: version 1 of the notice plus when it was sent. */
export function jsonBody(notice: ApprovalNotice, sentAt: Date = new Date()): string {
  return JSON.stringify({ version: 1, ...noticeFields(notice), sentAt: sentAt.toISOString() });
}

/** The notice's declared fields only: an object with more properties must not smuggle them out. */
function noticeFields(n: ApprovalNotice): ApprovalNotice {
  return {
    event: n.event,
    id: n.id,
    kind: n.kind,
    requester: { id: n.requester.id, name: n.requester.name, kind: n.requester.kind },
    connection: n.connection,
    policy: n.policy,
    reason: n.reason,
    redactedStatement: n.redactedStatement,
    rowEstimate: n.rowEstimate,
    durationMs: n.durationMs,
    expiresAt: n.expiresAt,
    links: { show: n.links.show, approve: n.links.approve, deny: n.links.deny },
    cli: { approve: n.cli.approve, deny: n.cli.deny },
  };
}

const TITLES: Readonly<Record<ApprovalEvent, string>> = {
  'approval.requested': 'Statement approval requested',
  'approval.approved': 'Statement approved',
  'approval.denied': 'Statement denied',
  'approval.expired': 'Statement approval expired',
  'approval.withdrawn': 'Statement approval withdrawn',
  'access.requested': 'Access requested',
  'access.approved': 'Access approved',
  'access.denied': 'Access denied',
  'access.break_glass': 'Break-glass access taken',
  'access.expired': 'Access expired',
  'access.revoked': 'Access revoked',
};

/** Slack rejects a section text over 3000 characters, which would lose the whole message. */
const SLACK_STATEMENT_LIMIT = 2500;

/** Slack's mrkdwn treats these three as markup (links, mentions); everything user-written is escaped. */
function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A Slack incoming-webhook message; Approve and Deny buttons only while a decision is pending. */
export function slackBody(notice: ApprovalNotice): string {
  const title = TITLES[notice.event];
  const blocks: object[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${title}* (${slackEscape(notice.id)})` } },
    { type: 'section', fields: slackFields(notice) },
  ];
  if (notice.redactedStatement !== undefined) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: codeBlock(notice.redactedStatement) } });
  }
  if (notice.event.endsWith('.requested')) blocks.push(decisionButtons(notice), cliContext(notice));
  const text = `${title}: ${notice.requester.name} on ${notice.connection} (${notice.policy})`;
  return JSON.stringify({ text: slackEscape(text), blocks });
}

function slackFields(notice: ApprovalNotice): object[] {
  const fields: [string, string][] = [
    ['Requester', `${notice.requester.name} (${notice.requester.kind} ${notice.requester.id})`],
    ['Connection', notice.connection],
    ['Policy', notice.policy],
    ['Reason', notice.reason],
    ['Expires', notice.expiresAt],
  ];
  if (notice.rowEstimate !== undefined)
    fields.push(['Estimated rows', String(notice.rowEstimate ?? 'unknown')]);
  if (notice.durationMs !== undefined)
    fields.push(['Duration', `${Math.round(notice.durationMs / 60_000)} min`]);
  return fields.map(([label, value]) => ({ type: 'mrkdwn', text: `*${label}*\n${slackEscape(value)}` }));
}

function codeBlock(statement: string): string {
  const shown =
    statement.length > SLACK_STATEMENT_LIMIT ? `${statement.slice(0, SLACK_STATEMENT_LIMIT)}…` : statement;
  return `\`\`\`${slackEscape(shown)}\`\`\``;
}

function decisionButtons(notice: ApprovalNotice): object {
  const button = (label: string, url: string, style: 'primary' | 'danger') => ({
    type: 'button',
    text: { type: 'plain_text', text: label },
    url,
    style,
    action_id: label.toLowerCase(),
  });
  return {
    type: 'actions',
    elements: [
      button('Approve', notice.links.approve, 'primary'),
      button('Deny', notice.links.deny, 'danger'),
    ],
  };
}

function cliContext(notice: ApprovalNotice): object {
  const command = (cli: string) => `\`${slackEscape(cli)}\``;
  return {
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `<${slackEscape(notice.links.show)}|Details> · ${command(notice.cli.approve)} · ${command(notice.cli.deny)}`,
      },
    ],
  };
}

export interface WebhookNotifierOptions {
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  /** Further attempts after the first; default 4. */
  readonly retries?: number;
  /** Per attempt; default 5000. */
  readonly timeoutMs?: number;
  /** First retry delay, doubled on each further retry; default 500. */
  readonly backoffMs?: number;
  /** Deliveries waiting to start beyond which the oldest is dropped; default 1000. */
  readonly maxQueued?: number;
}

interface Delivery {
  readonly target: WebhookTarget;
  readonly origin: string;
  readonly body: string;
  readonly event: ApprovalEvent;
  readonly id: string;
}

/** Deliveries in flight at once; more wait in the queue. */
const CONCURRENCY = 8;

/**
 * Fire-and-forget delivery of each notice to every target. Retries network errors, timeouts, 429
 * and 5xx with exponential backoff; a 2xx ends the delivery, any other status abandons it. Never
 * throws from `notify`; failures are logged.
 */
export class WebhookNotifier {
  readonly #targets: readonly { readonly target: WebhookTarget; readonly origin: string }[];
  readonly #logger: Logger;
  readonly #fetch: typeof fetch;
  readonly #retries: number;
  readonly #timeoutMs: number;
  readonly #backoffMs: number;
  readonly #maxQueued: number;
  readonly #queue: Delivery[] = [];
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  /** @throws Error for a URL that does not parse or a `json` target without a secret. */
  constructor(targets: readonly WebhookTarget[], options: WebhookNotifierOptions) {
    this.#targets = targets.map((target) => ({ target, origin: checkedOrigin(target) }));
    this.#logger = options.logger;
    this.#fetch = options.fetch ?? fetch;
    this.#retries = options.retries ?? 4;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#backoffMs = options.backoffMs ?? 500;
    this.#maxQueued = options.maxQueued ?? 1000;
  }

  notify(notice: ApprovalNotice): void {
    if (this.#closed) {
      this.#logger.warn(
        { event: notice.event, id: notice.id },
        'approval webhook: notifier closed, notice dropped',
      );
      return;
    }
    for (const { target, origin } of this.#targets) {
      const body = target.format === 'slack' ? slackBody(notice) : jsonBody(notice);
      this.#enqueue({ target, origin, body, event: notice.event, id: notice.id });
    }
    this.#pump();
  }

  /** Stops accepting notices and resolves once every queued and in-flight delivery has finished. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running.size > 0) await Promise.all(this.#running);
  }

  #enqueue(delivery: Delivery): void {
    if (this.#queue.length >= this.#maxQueued) {
      const dropped = this.#queue.shift();
      this.#logger.warn(
        { webhook: dropped?.origin, event: dropped?.event, id: dropped?.id },
        'approval webhook: queue full, oldest delivery dropped',
      );
    }
    this.#queue.push(delivery);
  }

  #pump(): void {
    while (this.#running.size < CONCURRENCY) {
      const delivery = this.#queue.shift();
      if (delivery === undefined) return;
      const running: Promise<void> = this.#deliver(delivery).finally(() => {
        this.#running.delete(running);
        this.#pump();
      });
      this.#running.add(running);
    }
  }

  async #deliver(delivery: Delivery): Promise<void> {
    const { target, body } = delivery;
    const outcome = await postWithRetries(target.url, body, {
      secret: target.secret,
      timeoutMs: this.#timeoutMs,
      fetch: this.#fetch,
      attempts: this.#retries + 1,
      backoff: new Backoff(this.#backoffMs, this.#backoffMs * 2 ** this.#retries),
    });
    if (delivered(outcome)) return;
    this.#logger.warn(
      { webhook: delivery.origin, event: delivery.event, id: delivery.id, ...outcome },
      'approval webhook delivery failed',
    );
  }
}

/** The target's origin for logs; validates the target once, up front. */
function checkedOrigin(target: WebhookTarget): string {
  let origin: string;
  try {
    origin = new URL(target.url).origin;
  } catch {
    throw new Error('approval webhook: a target URL does not parse');
  }
  if (target.format === 'json' && target.secret === undefined) {
    throw new Error(`approval webhook ${origin}: a json target needs a signing secret`);
  }
  return origin;
}
