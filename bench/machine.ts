/** The facts a reader needs to judge the numbers: hardware and software versions. */
import { readFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { serverVersion } from './database.ts';
import { onPath, runCommand } from './shell.ts';

export interface Machine {
  readonly cores: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly postgres: string;
  readonly pgbench: string;
  readonly pgbouncer: string | undefined;
}

async function cpuModel(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
}

/** The first line of `TOOL --version`. */
async function toolVersion(tool: string): Promise<string> {
  const { stdout } = await runCommand(tool, ['--version']);
  return stdout.split('\n')[0]?.trim() ?? 'unknown';
}

export async function describeMachine(): Promise<Machine> {
  return {
    cores: cpus().length,
    cpuModel: await cpuModel(),
    kernel: `Linux ${release()}`,
    node: process.version,
    postgres: `PostgreSQL ${await serverVersion()}`,
    pgbench: await toolVersion('pgbench'),
    pgbouncer: (await onPath('pgbouncer')) ? await toolVersion('pgbouncer') : undefined,
  };
}
