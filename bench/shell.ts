/**
 * Runs a command to completion and returns its output. Every bench step that shells out (psql,
 * pgbench, getconf) goes through here, so an abort (Ctrl+C, the overall time bound) kills it.
 */
import { execFile } from 'node:child_process';

export interface CommandOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface CommandOutput {
  readonly stdout: string;
  readonly stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly output: CommandOutput,
    cause: unknown,
  ) {
    const stderr = output.stderr.trim().split('\n').slice(-5).join('\n');
    super(`${command} failed: ${(cause as Error).message.split('\n')[0]}${stderr ? `\n${stderr}` : ''}`, {
      cause,
    });
  }
}

export function runCommand(file: string, args: readonly string[], options: CommandOptions = {}) {
  return new Promise<CommandOutput>((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        // execFile kills with SIGTERM on timeout or abort; pgbench exits cleanly on it.
        ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
        ...(options.signal ? { signal: options.signal } : {}),
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) reject(new CommandError([file, ...args].join(' '), { stdout, stderr }, error));
        else resolve({ stdout, stderr });
      },
    );
  });
}

/** True when `name` is an executable on PATH. */
export async function onPath(name: string): Promise<boolean> {
  try {
    await runCommand('sh', ['-c', `command -v ${name}`]);
    return true;
  } catch {
    return false;
  }
}
