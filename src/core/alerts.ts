/**
 * @module core/alerts
 * The operational alert hook: a signed JSON POST to each configured webhook when the gateway cannot
 * reach an upstream, when policy evaluation fails, or when an audit sink falls behind, and a
 * `resolved` one when that condition clears.
 *
 * A condition is named by its kind and a key (the connection, the policy, the sink). While it
 * fires, raising it again only counts: a database that is down for a thousand connection attempts
 * sends one alert, then one reminder per `repeatAfterMs` that carries the count since the last.
 *
 * An alert leaves the gateway for chat and paging systems, so its body holds only the fields of
 * {@link AlertDetails}, picked one by one: names, error codes and counts; never statement text,
 * parameters, credentials or row values. Logs name a webhook by its URL's origin only.
 */
import { Backoff, postWithRetries, settledWithin } from './delivery.ts';
import type { Logger } from './logger.ts';

export const ALERT_KINDS = ['upstream_unreachable', 'policy_error', 'audit_sink_behind'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export type AlertStatus = 'firing' | 'resolved';

/** What an alert may say about its condition. */
export interface AlertDetails {
  readonly connection?: string | undefined;
  readonly policy?: string | undefined;
  /** `store`, or an export sink as `<type>-<index in audit.sinks>` (e.g. `syslog-0`). */
  readonly sink?: string | undefined;
  /** An error code or class (`ECONNREFUSED`, `unreachable`, `TypeError`), never a message. */
  readonly error?: string | undefined;
  readonly lag?: number | undefined;
  readonly threshold?: number | undefined;
}

export interface AlertWebhook {
  readonly url: string;
  /** HMAC-SHA256 key for the signature headers. */
  readonly secret: Buffer;
  /** The kinds this receiver is sent. */
  readonly events: readonly AlertKind[];
}

/** Where alert counts go (Prometheus on the gateway). */
export interface AlertMetrics {
  alertSent(kind: AlertKind, status: AlertStatus): void;
  alertDeliveryFailed(kind: AlertKind): void;
}

export interface AlertHookOptions {
  readonly webhooks: readonly AlertWebhook[];
  /** Names this replica in every alert (e.g. `host:pid`). */
  readonly gateway: string;
  /** While a condition fires, at most one alert per this interval (default 5 min). */
  readonly repeatAfterMs?: number;
  readonly logger: Logger;
  readonly metrics?: AlertMetrics | undefined;
  /** Attempts per alert and receiver (default 5); an alert is dropped after the last. */
  readonly attempts?: number;
  /** Retry delays (defaults 500 ms doubling to 30 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Per request (default 5 s). */
  readonly timeoutMs?: number;
  /** Alerts waiting per receiver beyond which the oldest is dropped (default 100). */
  readonly maxQueued?: number;
  /** How long `close` waits for queued alerts (default 5 s). */
  readonly closeTimeoutMs?: number;
}

/** A condition that fires. */
interface Firing {
  readonly since: string;
  /** As last raised. */
  details: AlertDetails;
  /** When the last alert for it was queued (ms since the epoch). */
  sentAt: number;
  /** Raised since the last alert was queued. */
  unsent: number;
  /** Raised since it started firing. */
  total: number;
}

interface Alert {
  readonly kind: AlertKind;
  readonly body: string;
}

/** Never throws into its callers: delivery failures are logged and counted. */
export class AlertHook {
  readonly #gateway: string;
  readonly #repeatAfterMs: number;
  readonly #logger: Logger;
  readonly #metrics: AlertMetrics | undefined;
  readonly #receivers: readonly AlertReceiver[];
  readonly #firing = new Map<string, Firing>();
  readonly #closeTimeoutMs: number;
  #closed = false;

  /** @throws Error for a webhook URL that does not parse (configuration is validated before). */
  constructor(options: AlertHookOptions) {
    this.#gateway = options.gateway;
    this.#repeatAfterMs = options.repeatAfterMs ?? 300_000;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 5000;
    this.#receivers = options.webhooks.map((webhook) => new AlertReceiver(webhook, options));
  }

  /** The condition `kind`/`key` holds now; alerts unless it already did within `repeatAfterMs`. */
  raise(kind: AlertKind, key: string, details: AlertDetails): void {
    const id = conditionId(kind, key);
    const now = Date.now();
    const known = this.#firing.get(id);
    const firing = known ?? { since: new Date(now).toISOString(), details, sentAt: now, unsent: 0, total: 0 };
    firing.details = details;
    firing.unsent++;
    firing.total++;
    if (known !== undefined && now - known.sentAt < this.#repeatAfterMs) return;
    this.#firing.set(id, firing);
    firing.sentAt = now;
    this.#send(kind, key, 'firing', firing);
    firing.unsent = 0;
  }

  /**
   * The condition `kind`/`key` no longer holds: a `resolved` alert if it was firing, with `details`
   * as they are now, or else as they were when last raised.
   */
  resolve(kind: AlertKind, key: string, details?: AlertDetails): void {
    const id = conditionId(kind, key);
    const firing = this.#firing.get(id);
    if (firing === undefined) return;
    this.#firing.delete(id);
    this.#send(kind, key, 'resolved', {
      ...firing,
      details: details ?? firing.details,
      unsent: firing.total,
    });
  }

  /** Stops alerting and waits, bounded, for queued alerts. */
  async close(): Promise<void> {
    this.#closed = true;
    await settledWithin(
      Promise.all(this.#receivers.map((receiver) => receiver.drain())),
      this.#closeTimeoutMs,
    );
    for (const receiver of this.#receivers) receiver.stop();
  }

  #send(kind: AlertKind, key: string, status: AlertStatus, firing: Firing): void {
    if (this.#closed) return;
    this.#metrics?.alertSent(kind, status);
    this.#logger.warn({ alert: kind, key, status, occurrences: firing.unsent }, `alert ${status}`);
    const body = alertBody({ kind, key, status, gateway: this.#gateway, firing });
    for (const receiver of this.#receivers) receiver.enqueue({ kind, body });
  }
}

function conditionId(kind: AlertKind, key: string): string {
  return `${kind}\u0000${key}`;
}

/** Version 1 of the alert body; details are copied field by field so nothing else can ride along. */
function alertBody(alert: {
  kind: AlertKind;
  key: string;
  status: AlertStatus;
  gateway: string;
  firing: Firing;
}): string {
  const { firing } = alert;
  const d = firing.details;
  return JSON.stringify({
    version: 1,
    alert: alert.kind,
    status: alert.status,
    key: alert.key,
    gateway: alert.gateway,
    at: new Date().toISOString(),
    since: firing.since,
    occurrences: firing.unsent,
    details: {
      connection: d.connection,
      policy: d.policy,
      sink: d.sink,
      error: d.error,
      lag: d.lag,
      threshold: d.threshold,
    },
  });
}

/** One webhook: its own bounded queue and a single sender, so its alerts arrive in order. */
class AlertReceiver {
  readonly #url: string;
  readonly #origin: string;
  readonly #secret: Buffer;
  readonly #events: ReadonlySet<AlertKind>;
  readonly #logger: Logger;
  readonly #metrics: AlertMetrics | undefined;
  readonly #attempts: number;
  readonly #timeoutMs: number;
  readonly #maxQueued: number;
  readonly #backoff: Backoff;
  readonly #queue: Alert[] = [];
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;

  constructor(webhook: AlertWebhook, options: AlertHookOptions) {
    try {
      this.#origin = new URL(webhook.url).origin;
    } catch {
      throw new Error('alert webhook: a URL does not parse');
    }
    this.#url = webhook.url;
    this.#secret = webhook.secret;
    this.#events = new Set(webhook.events);
    this.#logger = options.logger;
    this.#metrics = options.metrics;
    this.#attempts = options.attempts ?? 5;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#maxQueued = options.maxQueued ?? 100;
    this.#backoff = new Backoff(options.retryMinMs ?? 500, options.retryMaxMs ?? 30_000);
  }

  enqueue(alert: Alert): void {
    if (!this.#events.has(alert.kind)) return;
    if (this.#queue.length >= this.#maxQueued) {
      const dropped = this.#queue.shift();
      this.#logger.warn(
        { webhook: this.#origin, alert: dropped?.kind },
        'alert webhook: queue full, oldest alert dropped',
      );
    }
    this.#queue.push(alert);
    this.#pump();
  }

  /** Resolves once the queue is empty (or the receiver was stopped). */
  async drain(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  stop(): void {
    this.#stop.abort();
  }

  /** Starts the single sender unless it runs; it restarts itself for alerts queued as it ended. */
  #pump(): void {
    if (this.#running !== undefined) return;
    this.#running = this.#sendQueued().finally(() => {
      this.#running = undefined;
      if (this.#queue.length > 0 && !this.#stop.signal.aborted) this.#pump();
    });
  }

  async #sendQueued(): Promise<void> {
    for (let alert = this.#queue.shift(); alert !== undefined; alert = this.#queue.shift()) {
      await this.#deliver(alert);
    }
  }

  /** Up to `attempts` POSTs: network errors, timeouts, 429 and 5xx are retried; other answers end it. */
  async #deliver(alert: Alert): Promise<void> {
    await postWithRetries(this.#url, alert.body, {
      secret: this.#secret,
      timeoutMs: this.#timeoutMs,
      signal: this.#stop.signal,
      attempts: this.#attempts,
      backoff: this.#backoff,
      onFailure: (outcome, attempt, retrying) => {
        this.#metrics?.alertDeliveryFailed(alert.kind);
        this.#logger.warn(
          {
            webhook: this.#origin,
            alert: alert.kind,
            attempt,
            ...('status' in outcome ? { status: outcome.status } : { error: outcome.error }),
          },
          retrying
            ? 'alert webhook: delivery failed; will retry'
            : 'alert webhook: delivery failed; alert dropped',
        );
      },
    });
  }
}
