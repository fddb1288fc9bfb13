/** Running programs and looking at processes through /proc. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run argv to completion, capturing output; never throws for a non-zero exit. */
export function run(argv: string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}

/** Like run, but a non-zero exit is an Error carrying the tail of stderr. */
export async function runOk(argv: string[], options: Parameters<typeof run>[1] = {}): Promise<RunResult> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-15).join('\n');
    throw new Error(`${argv.slice(0, 3).join(' ')} exited ${result.code}: ${tail}`);
  }
  return result;
}

/** Whether a program is on PATH. */
export function onPath(program: string): boolean {
  const dirs = (process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  // root's PATH may lack the sbin dirs (e.g. `su` without `-`); the tools the lab needs live there.
  for (const dir of [...dirs, '/usr/sbin', '/sbin']) {
    try {
      fs.accessSync(`${dir}/${program}`, fs.constants.X_OK);
      return true;
    } catch {
      // keep looking
    }
  }
  return false;
}

interface ProcStat {
  state: string;
  ppid: number;
  start: number;
}

function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may hold spaces and parentheses: fields after it start past the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0]!, ppid: Number(rest[1]), start: Number(rest[19]) };
}

/** Start time (clock ticks since boot) of a live process, or null when it is gone or a zombie. */
export function processStart(pid: number): number | null {
  const stat = procStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return null;
  return stat.start;
}

/** Whether `pid` is still the very process recorded with `start` (PIDs get reused). */
export function isAlive(pid: number | null, start: number | null): boolean {
  if (!pid) return false;
  const now = processStart(pid);
  return now !== null && (start === null || now === start);
}

/** Direct children of a process. */
export function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
    return fs
      .readdirSync('/proc')
      .filter((e) => /^[0-9]+$/.test(e))
      .map(Number)
      .filter((p) => procStat(p)?.ppid === pid);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until `check` is true or the time runs out; returns the last answer. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** Run `jobs` with at most `limit` at a time; results in input order. */
export async function pool<T, R>(items: T[], limit: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await job(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
