/** Running the tools under test as a user would, and timing them from spawn to exit. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: package.json beside bench/ (this file runs from dist/bench/lib). */
export const ROOT = (() => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'bench'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the checkout (package.json beside bench/)');
})();

/**
 * Where the Flight under test lives: the checkout, until stageFlight copies it aside. Other work
 * on the same checkout rebuilds dist/ (`npm run build` starts with rm -rf dist) at any time; a
 * 20-minute benchmark must not lose its Flight half-way, nor measure two different builds.
 */
let flightRoot = ROOT;
/**
 * The commands as npm installs them: both names are links to the one bundle, dist/flight.cjs,
 * which runs as the name it was invoked by (src/cli/entry.ts). Made by stageFlight.
 */
export const flightPlay = () => path.join(flightRoot, 'bin', 'flight-play');
export const flightCli = () => path.join(flightRoot, 'bin', 'flight');

/** Copy the built Flight (dist, playbooks, templates, package.json) to `dir` and run it from there. */
export function stageFlight(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  for (const part of ['dist', 'playbooks', 'templates', 'package.json']) {
    fs.cpSync(path.join(ROOT, part), path.join(dir, part), { recursive: true, verbatimSymlinks: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'bin'));
  for (const name of ['flight', 'flight-play']) fs.symlinkSync('../dist/flight.cjs', path.join(dir, 'bin', name));
  flightRoot = dir;
}

export interface Timed {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall seconds from spawn to exit. */
  seconds: number;
  /** With `cpu`: user + system seconds of the command and every child it waited for. */
  cpuSeconds?: number;
}

export interface RunOpts {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string | Buffer;
  /** Kill the run after this long: a hung peer must not hang the whole benchmark. */
  timeoutMs?: number;
  /** Also measure CPU time, through bash's `times` (costs one bash start, a few ms, for every tool alike). */
  cpu?: boolean;
}

/** Process groups of the commands running now, so an interrupted bench can end them. */
const running = new Set<number>();

export function killRunning(): void {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const TIMES = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/;

export function timed(command: string[], o: RunOpts = {}): Promise<Timed> {
  // `times` prints the shell's own times, then its children's: the last line is the command's.
  const argv = o.cpu ? ['bash', '-c', '"$@"; rc=$?; times >&2; exit $rc', 'bench', ...command] : command;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: o.env ?? process.env,
      cwd: o.cwd,
      // Its own process group, so a timeout ends the whole tree, not just the wrapper.
      detached: true,
    });
    if (child.pid) running.add(child.pid);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = o.timeoutMs
      ? setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, o.timeoutMs)
      : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (child.pid) running.delete(child.pid);
      const seconds = (performance.now() - t0) / 1000;
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      let cpuSeconds: number | undefined;
      if (o.cpu) {
        const lines = stderr.trimEnd().split('\n');
        const m = TIMES.exec(lines[lines.length - 1] ?? '');
        if (m) {
          cpuSeconds = Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]);
          stderr = lines.slice(0, -2).join('\n');
        }
      }
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString('utf8'), stderr, seconds, cpuSeconds });
    });
    if (o.input !== undefined) child.stdin!.end(o.input);
  });
}

/** Like timed, but a non-zero exit is an error showing the end of the output. */
export async function timedOk(argv: string[], o: RunOpts = {}): Promise<Timed> {
  const r = await timed(argv, o);
  if (r.code !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${path.basename(argv[0]!)} ${argv.slice(1, 3).join(' ')} exited ${r.code}:\n${tail}`);
  }
  return r;
}
