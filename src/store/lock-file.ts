/**
 * @module store/lock-file
 * PGlite runs PostgreSQL inside this process: a second process opening the same directory would
 * write to the same files with no shared locking and corrupt them. A lock file holding the owner's
 * pid turns that into a clear refusal.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatewayError } from '../core/errors.ts';

export interface DirLock {
  release(): Promise<void>;
}

function errorCode(error: unknown): unknown {
  return typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return errorCode(error) === 'EPERM';
  }
}

async function holderPid(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Takes `DIR/sluice.lock` for this process. The current process counts as a holder too: two
 * PGlite instances in one process corrupt the directory just the same.
 * A lock whose pid is no longer running (a crashed gateway) is taken over; so is an empty one,
 * which only a crash between creating and writing the file leaves behind.
 * @throws GatewayError GW_ERR_STORE naming the process that holds the lock.
 */
export async function lockDir(dir: string): Promise<DirLock> {
  const path = join(dir, 'sluice.lock');
  // Two attempts: the second follows the removal of a stale lock. If another process wins that
  // race, its (live) pid is read and reported like any other holder.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    const pid = await holderPid(path);
    if (pid !== undefined && isAlive(pid)) {
      throw new GatewayError(
        'GW_ERR_STORE',
        `store ${dir} is in use by process ${pid} (a running gateway?); stop it, or use a postgres:// store for several processes`,
      );
    }
    await rm(path, { force: true });
  }
  throw new GatewayError(
    'GW_ERR_STORE',
    `store ${dir} is locked by another process starting at the same time; use a postgres:// store for several processes`,
  );
}
