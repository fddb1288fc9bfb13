/**
 * Running Flight as an operator does: the real `flight` / `flight-play` commands of the compiled
 * build as child processes, with `--json` so that every host result and the recap can be read
 * back, and the readers of such a run. Tests assert on them and the benchmarks measure with them,
 * so nothing here goes around the CLI into Flight's own code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '../src/paths.js';
import type { HostStats, RunEvent } from '../src/runner/events.js';

export { ROOT };
export const FLIGHT_BIN = path.join(ROOT, 'dist', 'src', 'cli', 'flight.js');
export const FLIGHT_PLAY_BIN = path.join(ROOT, 'dist', 'src', 'cli', 'flight-play.js');

export type RecapEvent = Extract<RunEvent, { event: 'recap' }>;
export type HostResultEvent = Extract<RunEvent, { event: 'host_result' }>;

export interface FlightRun {
  /** The command line after the program name, as run (with `--json` when it was added). */
  args: string[];
  code: number;
  /** Every JSON event printed on stdout, in order. */
  events: RunEvent[];
  /** The last event when it is the recap; undefined when the run stopped before any host work. */
  recap?: RecapEvent;
  /** stdout lines that were not JSON events (with --json there should be none). */
  stray: string[];
  stdout: string;
  stderr: string;
  ms: number;
}

export interface FlightOptions {
  /** Which command: `flight` (default) or `flight-play`. */
  bin?: 'flight' | 'flight-play';
  /** Add `--json` (default: yes, except for `flight lab ...`, which has no event stream). */
  json?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the run after this long (default 15 min: a first provision installs packages). */
  timeoutMs?: number;
  /**
   * Called with each JSON event as its line arrives (not at the end), with the child process:
   * for tests that time phases of a run (when the switch happened) or act in the middle of one
   * (stop a server, kill the run). Date.now() in the callback is the event's arrival time.
   */
  onEvent?: (e: RunEvent, child: ChildProcess) => void;
  /** Called with every stdout line as it arrives, JSON or not (e.g. plain output's last line). */
  onLine?: (line: string, child: ChildProcess) => void;
}

/**
 * Run the real CLI (the compiled dist/ build) as a child process and parse what it printed.
 * Never throws for a non-zero exit: the exit code is part of what callers check. A start that
 * failed on a half-written build (see below) is retried.
 */
export async function flight(args: string[], opts: FlightOptions = {}): Promise<FlightRun> {
  for (let attempt = 1; ; attempt++) {
    const run = await flightOnce(args, opts);
    // dist/ is shared by everyone working in this checkout, and a `tsc` writing it while a run
    // starts the CLI shows up as a module link error before Flight runs at all. That is never
    // an outcome of Flight itself: wait for the build to finish and start again.
    if (attempt < 4 && run.code === 1 && run.events.length === 0 && STALE_BUILD.test(run.stderr)) {
      await new Promise((r) => setTimeout(r, 5000));
      continue;
    }
    return run;
  }
}

const STALE_BUILD = /SyntaxError: The requested module '[^']+' does not provide an export named|ERR_MODULE_NOT_FOUND/;

function flightOnce(args: string[], opts: FlightOptions): Promise<FlightRun> {
  const bin = opts.bin === 'flight-play' ? FLIGHT_PLAY_BIN : FLIGHT_BIN;
  const json = opts.json ?? !(opts.bin !== 'flight-play' && args[0] === 'lab');
  const fullArgs = json && !args.includes('--json') ? [...args, '--json'] : args;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    // CI=1 and no TTY: the plain reporter, no colours, when --json is not asked for.
    const child = spawn(process.execPath, [bin, ...fullArgs], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, CI: '1', FORCE_COLOR: '0', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      if (!opts.onLine && (!json || !opts.onEvent)) return;
      const lines = (partial + b.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        opts.onLine?.(line, child);
        if (!json || !opts.onEvent) continue;
        let e: unknown;
        try {
          e = JSON.parse(line);
        } catch {
          continue;
        }
        if (e && typeof e === 'object' && typeof (e as { event?: unknown }).event === 'string') opts.onEvent(e as RunEvent, child);
      }
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15 * 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const events: RunEvent[] = [];
      const stray: string[] = [];
      for (const line of stdout.split('\n')) {
        if (!line.trim()) continue;
        if (!json) {
          stray.push(line);
          continue;
        }
        try {
          const e = JSON.parse(line) as RunEvent;
          if (e && typeof e === 'object' && typeof (e as { event?: unknown }).event === 'string') events.push(e);
          else stray.push(line);
        } catch {
          stray.push(line);
        }
      }
      const last = events.at(-1);
      resolve({
        args: fullArgs,
        code: code ?? (signal ? 128 : 1),
        events,
        recap: last?.event === 'recap' ? last : undefined,
        stray,
        stdout,
        stderr: signal ? `${stderr}\n[killed by ${signal} after ${Date.now() - t0} ms]` : stderr,
        ms: Date.now() - t0,
      });
    });
  });
}

/** Host results of a run, optionally only those with one status / of one task. */
export function hostResults(run: FlightRun, filter: { status?: HostResultEvent['status']; task?: string; host?: string } = {}): HostResultEvent[] {
  return run.events.filter(
    (e): e is HostResultEvent =>
      e.event === 'host_result' &&
      (filter.status === undefined || e.status === filter.status) &&
      (filter.task === undefined || e.task === filter.task) &&
      (filter.host === undefined || e.host === filter.host),
  );
}

/** Results on the servers (not on the control machine, where `delegate_to: localhost` tasks run). */
export function serverResults(run: FlightRun): HostResultEvent[] {
  return hostResults(run).filter((e) => e.host !== 'localhost');
}

/** The recap's per-host stats; fails loudly (with the run's output) when there is no recap. */
export function recapHosts(run: FlightRun): Record<string, HostStats> {
  if (!run.recap) throw new Error(`no recap from flight ${run.args.join(' ')}\n${describeRun(run)}`);
  return run.recap.hosts;
}

/** {host: changed count} from the recap: `{lab-1: 0, ...}` is what a no-change run looks like. */
export function changedPerHost(run: FlightRun): Record<string, number> {
  return Object.fromEntries(Object.entries(recapHosts(run)).map(([h, s]) => [h, s.changed]));
}

/** The tasks that changed something, per host: what an assertion message should name. */
export function changedTasks(run: FlightRun): string[] {
  return hostResults(run, { status: 'changed' }).map((e) => `${e.host}: ${e.task}${e.msg ? ` (${e.msg})` : ''}`);
}

/** `host: task: message` for every failed or unreachable result. */
export function failures(run: FlightRun): string[] {
  return hostResults(run)
    .filter((e) => (e.status === 'failed' && !e.ignored) || e.status === 'unreachable')
    .map((e) => `${e.host}: ${e.task}: ${e.status}${e.msg ? `: ${e.msg}` : ''}`);
}

/** A compact account of a run for assertion messages: the command, exit code, failures, stderr. */
export function describeRun(run: FlightRun): string {
  const lines = [`flight ${run.args.join(' ')} -> exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s`];
  for (const f of failures(run)) lines.push(`  ${f}`);
  if (run.stray.length) lines.push(`  stdout: ${run.stray.slice(-10).join('\n          ')}`);
  if (!run.recap && run.events.length) lines.push(`  no recap; last events: ${run.events.slice(-3).map((e) => JSON.stringify(e)).join('\n          ')}`);
  if (run.stderr.trim()) lines.push(`  stderr: ${run.stderr.trim().split('\n').slice(-15).join('\n          ')}`);
  return lines.join('\n');
}
