/**
 * Safety net for `down`: processes rooted inside this lab's server dirs (e.g. when state.json was
 * lost) and mounts left under the state dir. Normally there are none: killing PID 1 ends a
 * server's namespaces, and with them every process and mount.
 */
import fs from 'node:fs';
import { run } from './proc.js';

/** Processes whose root directory is `dir` or below it. */
export function strayProcesses(dir: string): number[] {
  const prefix = `${dir}/`;
  const found: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if ((fs.readlinkSync(`/proc/${entry}/root`) + '/').startsWith(prefix)) found.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return found;
}

/** Mount points under `dir` in this process's mount namespace, deepest first. */
export function mountsUnder(dir: string): string[] {
  const decode = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => decode(line.split(' ')[4] ?? ''))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export async function unmountAll(points: string[]): Promise<void> {
  for (const point of points) await run(['umount', '-l', point]);
}
