/**
 * The IPC contract between the harness and the proxies it measures (gateway-process.ts,
 * tcp-relay.ts). Each child reports its own `process.cpuUsage()` on request: that is
 * getrusage(RUSAGE_SELF), i.e. every thread of the process (event loop, libuv pool, V8 GC and
 * the tsx loader thread), in µs, so the gateway and the relay are accounted for the same way.
 */

export interface ReadyMessage {
  readonly type: 'ready';
  readonly port: number;
  /** The gateway's API key (the password for pgbench); absent for the relay. */
  readonly apiKey?: string;
}
export interface CpuMessage {
  readonly type: 'cpu';
  readonly micros: number;
}
export interface FailedMessage {
  readonly type: 'failed';
  readonly message: string;
}
export type ChildMessage = ReadyMessage | CpuMessage | FailedMessage;
export type ParentMessage = { readonly type: 'cpu' };

export interface StartedChild {
  readonly ready: Omit<ReadyMessage, 'type'>;
  stop(): Promise<void>;
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Cumulative user+system CPU of this process, in µs. */
export function ownCpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * Child side: starts the service, announces it, answers CPU requests, and exits when the parent
 * asks (SIGTERM/SIGINT) or disappears (IPC disconnect), so a crashed harness leaves no orphan.
 */
export async function serveAsBenchChild(start: () => Promise<StartedChild>): Promise<void> {
  if (!process.send) throw new Error('run this through the bench harness (needs an IPC channel)');
  let started: StartedChild;
  try {
    started = await start();
  } catch (error) {
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await started.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'cpu') send({ type: 'cpu', micros: ownCpuMicros() });
  });
  send({ type: 'ready', ...started.ready });
}
