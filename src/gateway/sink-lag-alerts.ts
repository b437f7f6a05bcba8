/**
 * @module gateway/sink-lag-alerts
 * Watches the audit pipeline's backlogs (the store sink and every SIEM export sink) and raises
 * `audit_sink_behind` while one is past the threshold, resolving it once it has caught up. Lag is
 * sampled on a timer rather than on every record: the pipeline's hot path stays untouched, and a
 * sink that is stuck with no new traffic still gets noticed.
 */
import type { AlertHook } from '../core/alerts.ts';

/** A sink of the audit pipeline, by the name alerts give it (`store`, `syslog-0`, …). */
export interface WatchedSink {
  readonly name: string;
  readonly pipeline: {
    readonly lag: number;
    /** A sink that knows when it is behind says so (the store sink); others are judged by lag. */
    readonly stuck?: boolean;
  };
}

export interface SinkLagOptions {
  readonly sinkLagThreshold: number;
  readonly checkIntervalMs: number;
}

/** Checks every `checkIntervalMs` until the returned function is called. */
export function watchSinkLag(
  sinks: readonly WatchedSink[],
  alerts: AlertHook,
  options: SinkLagOptions,
): () => void {
  const timer = setInterval(
    () => checkSinkLag(sinks, alerts, options.sinkLagThreshold),
    options.checkIntervalMs,
  );
  timer.unref();
  return () => clearInterval(timer);
}

/** One look at every sink: raise what is behind, resolve what caught up. */
export function checkSinkLag(sinks: readonly WatchedSink[], alerts: AlertHook, threshold: number): void {
  for (const { name, pipeline } of sinks) {
    const details = { sink: name, lag: pipeline.lag, threshold };
    if (isBehind(pipeline, threshold)) alerts.raise('audit_sink_behind', name, details);
    else alerts.resolve('audit_sink_behind', name, details);
  }
}

/**
 * The store sink is behind while stuck (appends failing, or its queue past half its bound). Its
 * queue otherwise holds the events of its short gathering window, which is batching, not backlog,
 * and can run to thousands at high throughput.
 */
function isBehind(pipeline: WatchedSink['pipeline'], threshold: number): boolean {
  return pipeline.stuck ?? pipeline.lag >= threshold;
}
