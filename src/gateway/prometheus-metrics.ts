/**
 * @module gateway/prometheus-metrics
 * {@link ConnectionMetrics} backed by prom-client, scraped at the admin server's `/metrics`.
 *
 * Each instance owns its registry (not prom-client's global one), so tests and embedded uses can
 * create several without "metric already registered" clashes.
 *
 * These methods sit on the data path: `bytes()` runs once per network chunk, thousands of times
 * a second. prom-client's `labels({...})` hashes the label object on every call, so the labelled
 * children are looked up once per protocol (and reason/kind) and kept in maps.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { AlertKind, AlertMetrics, AlertStatus } from '../core/alerts.ts';
import type { AuthFailureReason, ConnectionMetrics, Direction } from '../core/metrics.ts';

type CounterChild = ReturnType<Counter['labels']>;
type GaugeChild = ReturnType<Gauge['labels']>;

/** The children for one protocol label value. */
interface ProtocolChildren {
  readonly connections: CounterChild;
  readonly active: GaugeChild;
  readonly statements: CounterChild;
  readonly bytes: Readonly<Record<Direction, CounterChild>>;
  readonly authFailures: Map<string, CounterChild>;
  readonly errors: Map<string, CounterChild>;
}

/** An audit export sink, labelled by its type and its index in `audit.sinks`. */
export interface LabelledExporter {
  readonly sink: string;
  readonly index: number;
  readonly exporter: { readonly lag: number; readonly failures: number };
}

export class PrometheusMetrics implements ConnectionMetrics, AlertMetrics {
  readonly registry = new Registry();
  readonly #connections: Counter<'protocol'>;
  readonly #active: Gauge<'protocol'>;
  readonly #authFailures: Counter<'protocol' | 'reason'>;
  readonly #statements: Counter<'protocol'>;
  readonly #bytes: Counter<'protocol' | 'direction'>;
  readonly #errors: Counter<'protocol' | 'kind'>;
  readonly #refused: Counter<'protocol' | 'decision' | 'rule'>;
  readonly #approvals: Counter<'event' | 'kind'>;
  readonly #alerts: Counter<'kind' | 'status'>;
  readonly #alertDeliveryFailures: Counter<'kind'>;
  readonly #byProtocol = new Map<string, ProtocolChildren>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#connections = new Counter({
      name: 'sluice_connections_total',
      help: 'Client connections accepted.',
      labelNames: ['protocol'],
      registers,
    });
    this.#active = new Gauge({
      name: 'sluice_connections_active',
      help: 'Client connections currently open.',
      labelNames: ['protocol'],
      registers,
    });
    this.#authFailures = new Counter({
      name: 'sluice_auth_failures_total',
      help: 'Client connections refused before or during authentication, by reason.',
      labelNames: ['protocol', 'reason'],
      registers,
    });
    this.#statements = new Counter({
      name: 'sluice_statements_total',
      help: 'Statements sent for execution (simple queries and extended-protocol executes).',
      labelNames: ['protocol'],
      registers,
    });
    this.#bytes = new Counter({
      name: 'sluice_bytes_total',
      help: 'Bytes relayed, by direction.',
      labelNames: ['protocol', 'direction'],
      registers,
    });
    this.#errors = new Counter({
      name: 'sluice_session_errors_total',
      help: 'Sessions ended by an error, by kind.',
      labelNames: ['protocol', 'kind'],
      registers,
    });
    this.#refused = new Counter({
      name: 'sluice_statements_refused_total',
      help: 'Statements refused before reaching the server, by decision (deny, review, limit) and rule.',
      labelNames: ['protocol', 'decision', 'rule'],
      registers,
    });
    this.#approvals = new Counter({
      name: 'sluice_approval_events_total',
      help: 'Approval workflow events on this replica: requested, decided, closed (expired, withdrawn, revoked), used, access ended.',
      labelNames: ['event', 'kind'],
      registers,
    });
    this.#alerts = new Counter({
      name: 'sluice_alerts_total',
      help: 'Operational alerts sent (firing, reminders and resolved), by kind and status.',
      labelNames: ['kind', 'status'],
      registers,
    });
    this.#alertDeliveryFailures = new Counter({
      name: 'sluice_alert_delivery_failures_total',
      help: 'Failed attempts to deliver an alert to a webhook, by alert kind.',
      labelNames: ['kind'],
      registers,
    });
  }

  alertSent(kind: AlertKind, status: AlertStatus): void {
    this.#alerts.labels({ kind, status }).inc();
  }

  alertDeliveryFailed(kind: AlertKind): void {
    this.#alertDeliveryFailures.labels({ kind }).inc();
  }

  /** Each SIEM export sink's backlog and failed deliveries, read at each scrape. */
  observeExporters(exporters: readonly LabelledExporter[]): void {
    const registers = [this.registry];
    const labelNames = ['sink', 'index'] as const;
    const labelsOf = ({ sink, index }: LabelledExporter) => ({ sink, index: String(index) });
    new Gauge({
      name: 'sluice_audit_exporter_lag_events',
      help: 'Audit records handed to an export sink and not yet delivered.',
      labelNames,
      registers,
      collect() {
        for (const labelled of exporters) this.set(labelsOf(labelled), labelled.exporter.lag);
      },
    });
    new Gauge({
      name: 'sluice_audit_exporter_failures',
      help: 'Failed delivery attempts (writes, connections, requests) of an export sink since start.',
      labelNames,
      registers,
      collect() {
        for (const labelled of exporters) this.set(labelsOf(labelled), labelled.exporter.failures);
      },
    });
  }

  /**
   * The audit pipeline's state, read at each scrape: events waiting for the store, failed appends
   * and events dropped because the queue was full (alert on any growth of the last two).
   */
  observeAudit(pipeline: {
    readonly lag: number;
    readonly failures: number;
    readonly dropped: number;
  }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'sluice_audit_queue_events',
      help: 'Audit events waiting to be written to the store (sink lag).',
      registers,
      collect() {
        this.set(pipeline.lag);
      },
    });
    new Gauge({
      name: 'sluice_audit_append_failures',
      help: 'Failed attempts to append audit events to the store since start.',
      registers,
      collect() {
        this.set(pipeline.failures);
      },
    });
    new Gauge({
      name: 'sluice_audit_dropped_events',
      help: 'Audit events dropped because the queue was full since start.',
      registers,
      collect() {
        this.set(pipeline.dropped);
      },
    });
  }

  /** One approval or access-request event (see docs/approvals.md#audit-events). */
  approvalEvent(event: string, kind: string): void {
    this.#approvals.labels({ event, kind }).inc();
  }

  /** Off the hot path (refusals only), so plain labels() is fine here. */
  statementRefused(protocol: string, decision: string, rule: string): void {
    this.#refused.labels({ protocol, decision, rule }).inc();
  }

  connectionOpened(protocol: string): void {
    const children = this.#children(protocol);
    children.connections.inc();
    children.active.inc();
  }

  connectionClosed(protocol: string): void {
    this.#children(protocol).active.dec();
  }

  authFailure(protocol: string, reason: AuthFailureReason): void {
    labelled(this.#children(protocol).authFailures, reason, () =>
      this.#authFailures.labels(protocol, reason),
    ).inc();
  }

  statements(protocol: string, count: number): void {
    this.#children(protocol).statements.inc(count);
  }

  bytes(protocol: string, direction: Direction, count: number): void {
    this.#children(protocol).bytes[direction].inc(count);
  }

  error(protocol: string, kind: string): void {
    labelled(this.#children(protocol).errors, kind, () => this.#errors.labels(protocol, kind)).inc();
  }

  /** The Prometheus text exposition of every metric in this registry. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  #children(protocol: string): ProtocolChildren {
    let children = this.#byProtocol.get(protocol);
    if (!children) {
      children = {
        connections: this.#connections.labels(protocol),
        active: this.#active.labels(protocol),
        statements: this.#statements.labels(protocol),
        bytes: {
          client_to_upstream: this.#bytes.labels(protocol, 'client_to_upstream'),
          upstream_to_client: this.#bytes.labels(protocol, 'upstream_to_client'),
        },
        authFailures: new Map(),
        errors: new Map(),
      };
      this.#byProtocol.set(protocol, children);
    }
    return children;
  }
}

function labelled(cache: Map<string, CounterChild>, value: string, create: () => CounterChild): CounterChild {
  let child = cache.get(value);
  if (!child) {
    child = create();
    cache.set(value, child);
  }
  return child;
}
