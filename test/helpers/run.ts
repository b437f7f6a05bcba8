/** Runs a real binary (psql, pgbench, pg_dump, the sluice CLI) to completion and captures its output. */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The child's whole environment instead, when a test must control exactly what it sees. */
  exactEnv?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** A binary still running, with its output so far; `done` resolves when it exits. */
export interface RunningProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly done: Promise<RunResult>;
  stdout(): string;
  stderr(): string;
  running(): boolean;
}

/** Starts a real binary and collects its output as it arrives (for tests that act while it runs). */
export function start(command: string, args: readonly string[], options: RunOptions = {}): RunningProcess {
  const child = spawn(command, args, {
    env: options.exactEnv ?? { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  child.stdin.end(options.input ?? '');
  return {
    child,
    done,
    stdout: () => stdout,
    stderr: () => stderr,
    running: () => child.exitCode === null && child.signalCode === null,
  };
}

export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return start(command, args, options).done;
}
