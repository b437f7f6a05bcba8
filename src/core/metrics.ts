/**
 * @module core/metrics
 * The narrow counters that protocol sessions report into. Protocol code depends on this
 * interface only; the Prometheus implementation lives with the admin server.
 */

export type Direction = 'client_to_upstream' | 'upstream_to_client';

export type AuthFailureReason = 'credential' | 'tls_required' | 'startup' | 'timeout' | 'not_authorized';

export interface ConnectionMetrics {
  connectionOpened(protocol: string): void;
  connectionClosed(protocol: string): void;
  authFailure(protocol: string, reason: AuthFailureReason): void;
  /**
   * Statements sent for execution (simple Query or extended-protocol Execute). Sessions count
   * locally and report about once a second, so the data path never touches the registry.
   */
  statements(protocol: string, count: number): void;
  /** Bytes relayed since the last report (reported in batches like statements). */
  bytes(protocol: string, direction: Direction, count: number): void;
  /** A session ended by an error; `kind` is a short stable label (`protocol`, `upstream`, `timeout`…). */
  error(protocol: string, kind: string): void;
}

/** For tools and tests that run a session without an admin server. */
export const noopMetrics: ConnectionMetrics = {
  connectionOpened() {},
  connectionClosed() {},
  authFailure() {},
  statements() {},
  bytes() {},
  error() {},
};
