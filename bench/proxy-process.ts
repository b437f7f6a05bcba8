/**
 * Parent side of the measured proxies: starting them, reading their CPU time, stopping them.
 * Node children (gateway, relay) report `process.cpuUsage()` over IPC (µs resolution);
 * pgbouncer is a plain binary, so its CPU comes from /proc/PID/stat (utime+stime, clock ticks).
 * Both count user+system time of every thread of the process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage, ReadyMessage } from './child-ipc.ts';
import { runCommand } from './shell.ts';

export interface ProxyProcess {
  readonly pid: number;
  /** Cumulative user+system CPU time of the whole process, in µs. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

const RUN_TS = fileURLToPath(new URL('../bin/run-ts.js', import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const CPU_REPLY_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 3_000;

/** Sends SIGTERM, then SIGKILL if the process is still there after a grace period. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

/** Opens `logPath` for a child's stdout and stderr, so a failing proxy can be diagnosed. */
function logStdio(logPath: string): number {
  return openSync(logPath, 'a');
}

/** Starts `bench/SCRIPT` under tsx and waits for its ready message. */
export async function startNodeProxy(
  script: string,
  args: readonly string[],
  logPath: string,
): Promise<{ process: ProxyProcess; ready: ReadyMessage }> {
  const scriptPath = fileURLToPath(new URL(script, import.meta.url));
  const log = logStdio(logPath);
  const child = spawn(process.execPath, [RUN_TS, scriptPath, ...args], {
    stdio: ['ignore', log, log, 'ipc'],
  });
  closeSync(log);
  try {
    const ready = await nextMessage(child, 'ready', READY_TIMEOUT_MS, logPath);
    return { process: nodeProxyProcess(child, logPath), ready };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

function nodeProxyProcess(child: ChildProcess, logPath: string): ProxyProcess {
  const pid = child.pid ?? -1;
  return {
    pid,
    async cpuMicros() {
      const reply = nextMessage(child, 'cpu', CPU_REPLY_TIMEOUT_MS, logPath);
      child.send({ type: 'cpu' } satisfies ParentMessage);
      return (await reply).micros;
    },
    stop: () => stopChild(child),
  };
}

/** The next IPC message of `type`; rejects if the child fails, exits or stays silent. */
function nextMessage<T extends ChildMessage['type']>(
  child: ChildProcess,
  type: T,
  timeoutMs: number,
  logPath: string,
): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      outcome();
    };
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'failed') settle(() => reject(new Error(`${message.message} (log: ${logPath})`)));
      if (message.type === type) settle(() => resolve(message as Extract<ChildMessage, { type: T }>));
    };
    const onExit = (code: number | null) =>
      settle(() => reject(new Error(`proxy exited (code ${code}) before '${type}'; log: ${logPath}`)));
    const timer = setTimeout(
      () =>
        settle(() => reject(new Error(`no '${type}' from proxy within ${timeoutMs} ms; log: ${logPath}`))),
      timeoutMs,
    );
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

let clockTicksPerSecond: number | undefined;

async function clockTicks(): Promise<number> {
  if (clockTicksPerSecond === undefined) {
    const { stdout } = await runCommand('getconf', ['CLK_TCK']).catch(() => ({ stdout: '100' }));
    clockTicksPerSecond = Number(stdout.trim()) || 100;
  }
  return clockTicksPerSecond;
}

/** utime+stime of a process from /proc/PID/stat, in µs (resolution: one clock tick, usually 10 ms). */
export async function procStatCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
  return (ticks * 1_000_000) / (await clockTicks());
}

/** A non-Node proxy (pgbouncer), measured through /proc. */
export function procStatProxyProcess(child: ChildProcess): ProxyProcess {
  const pid = child.pid ?? -1;
  return { pid, cpuMicros: () => procStatCpuMicros(pid), stop: () => stopChild(child) };
}
