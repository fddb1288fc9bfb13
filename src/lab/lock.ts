/**
 * A lock between processes (two test files, or a test and a user's `flight lab up`, may touch the
 * same lab at once). mkdir is atomic; the owner's PID inside lets a lock left by a dead process
 * be taken over instead of blocking forever.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAlive, processStart, sleep } from './proc.js';

function owner(lockDir: string): { pid: number; start: number | null } | null {
  try {
    const [pid, start] = fs.readFileSync(path.join(lockDir, 'owner'), 'utf8').trim().split(' ');
    return { pid: Number(pid), start: start ? Number(start) : null };
  } catch {
    return null;
  }
}

export async function withLock<T>(lockDir: string, what: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let ownerless = 0;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'owner'), `${process.pid} ${processStart(process.pid) ?? ''}\n`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = owner(lockDir);
    // No owner file yet: the holder is between mkdir and write; only a long gap means it died there.
    const stale = held ? !isAlive(held.pid, held.start) : ++ownerless > 40;
    if (stale) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      ownerless = 0;
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (lock ${lockDir} held by PID ${held?.pid})`);
    await sleep(100);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}
