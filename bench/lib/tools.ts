/**
 * One timed run of each tool, as its users run it: a fresh process from spawn to exit. Every run
 * is checked (exit status, failures, and for a no-change run that nothing changed) so a broken
 * set-up cannot pass for a fast run.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchLab } from './labs.js';
import { BENCH_DIR } from './labs.js';
import { flightCli, flightPlay, ROOT, timed, type Timed } from './proc.js';

export interface RunOutcome {
  seconds: number;
  /** SSH logins the servers' sshd logs gained during the run. */
  logins: number;
  changed: number;
  /** Flight only: the recap's own count of connections opened. */
  reported?: number;
  /** CPU seconds of the tool's process tree on the control machine. */
  clientCpu?: number;
  /** CPU seconds of everything sshd ran for it on the servers. */
  serverCpu?: number;
  /** Flight only: each task's wall milliseconds, from its JSON events, in order. */
  tasks?: Array<{ task: string; ms: number }>;
}

/** Each task's wall milliseconds from a Flight run's JSON events (task_end), in order. */
export function taskTimes(stdout: string): Array<{ task: string; ms: number }> {
  const out: Array<{ task: string; ms: number }> = [];
  for (const line of stdout.split('\n')) {
    if (!line.includes('"task_end"')) continue;
    try {
      const e = JSON.parse(line) as { event?: string; task?: string; ms?: number };
      if (e.event === 'task_end' && typeof e.task === 'string' && typeof e.ms === 'number') out.push({ task: e.task, ms: e.ms });
    } catch {
      // not an event line
    }
  }
  return out;
}

/**
 * Server CPU used since `before`: waits for sshd to reap the tool's connections first, since
 * their time is only counted then.
 */
export async function serverCpuSince(lab: BenchLab, n: number, before: number): Promise<number> {
  await lab.settled(n);
  return Math.round((lab.serverCpu(n) - before) * 100) / 100;
}

export type Expect = 'no-change' | 'change' | 'any';

function judge(tool: string, expect: Expect, changed: number, failed: number, detail: () => string): void {
  if (failed > 0) throw new Error(`${tool}: ${failed} task(s) failed\n${detail()}`);
  if (expect === 'no-change' && changed > 0) throw new Error(`${tool}: a no-change run changed ${changed} task result(s); the servers were not converged\n${detail()}`);
  if (expect === 'change' && changed === 0) throw new Error(`${tool}: a first apply changed nothing; the servers were not fresh\n${detail()}`);
}

const tail = (r: Timed, n = 30) => `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-n).join('\n');

interface Recap {
  event: 'recap';
  hosts: Record<string, { changed: number; failed: number; unreachable: number }>;
  ms: number;
  connections: number;
}

export function parseFlightRecap(stdout: string): Recap | undefined {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const e = JSON.parse(lines[i]!) as { event?: string };
      if (e.event === 'recap') return e as Recap;
    } catch {
      // not JSON: keep looking
    }
  }
  return undefined;
}

/** Check a finished Flight run (its recap, failures, changes and exit code) and return its counts. */
export function checkedFlightRun(r: Timed, expect: Expect, tool = 'flight'): { changed: number; reported: number } {
  const recap = parseFlightRecap(r.stdout);
  if (!recap) throw new Error(`${tool} exited ${r.code} without a recap:\n${tail(r)}`);
  const hosts = Object.values(recap.hosts);
  const changed = hosts.reduce((a, h) => a + h.changed, 0);
  const failed = hosts.reduce((a, h) => a + h.failed + h.unreachable, 0);
  const failures = () => r.stdout.split('\n').filter((l) => l.includes('"status":"failed"') || l.includes('"status":"unreachable"')).slice(0, 5).join('\n') || tail(r);
  judge(tool, expect, changed, failed, failures);
  if (r.code !== 0) throw new Error(`${tool} exited ${r.code}:\n${tail(r)}`);
  return { changed, reported: recap.connections };
}

function flightOutcome(r: Timed, expect: Expect, lab: BenchLab, n: number, before: number, serverCpu: number): RunOutcome {
  const { changed, reported } = checkedFlightRun(r, expect);
  return { seconds: r.seconds, logins: lab.logins(n) - before, changed, reported, clientCpu: r.cpuSeconds, serverCpu, tasks: taskTimes(r.stdout) };
}

/** `flight-play PLAYBOOK --defs DEFS --json --forks N` on the first n servers. */
export async function runFlightPlay(lab: BenchLab, n: number, playbook: string, expect: Expect): Promise<RunOutcome> {
  const defs = lab.flightDefs(n);
  const before = lab.logins(n);
  const cpu0 = lab.serverCpu(n);
  const r = await timed(['node', flightPlay(), playbook, '--defs', defs, '--json', '--forks', String(Math.max(n, 1))], { timeoutMs: 15 * 60_000, cpu: true });
  return flightOutcome(r, expect, lab, n, before, await serverCpuSince(lab, n, cpu0));
}

/** `flight app:release APP SHA --defs DEFS --json`, the app being on the lab's first `n` servers. */
export async function runFlightRelease(lab: BenchLab, app: string, sha: string, n = lab.spec.servers): Promise<RunOutcome> {
  const before = lab.logins(n);
  const cpu0 = lab.serverCpu(n);
  const r = await timed(['node', flightCli(), 'app:release', app, sha, '--defs', lab.defs, '--json'], { timeoutMs: 15 * 60_000, cpu: true });
  return flightOutcome(r, 'change', lab, n, before, await serverCpuSince(lab, n, cpu0));
}

export const ANSIBLE_DIR = path.join(ROOT, 'bench', 'ansible');

/** Sums of the PLAY RECAP lines: `lab-1 : ok=23 changed=0 unreachable=0 failed=0 ...`. */
export function parseAnsibleRecap(stdout: string): { hosts: number; changed: number; failed: number } | undefined {
  const at = stdout.lastIndexOf('PLAY RECAP');
  if (at < 0) return undefined;
  let hosts = 0;
  let changed = 0;
  let failed = 0;
  for (const line of stdout.slice(at).split('\n')) {
    const m = /:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(line);
    if (!m) continue;
    hosts++;
    changed += Number(m[2]);
    failed += Number(m[3]) + Number(m[4]);
  }
  return { hosts, changed, failed };
}

/**
 * ansible-playbook with forks = n, pipelining and ControlPersist (bench/ansible/ansible.cfg). Each
 * run gets its own ControlPath folder and its masters are closed afterwards: a run never rides on
 * connections a previous run left open, just as Flight's runs start cold.
 */
export async function runAnsible(lab: BenchLab, n: number, playbook: string, expect: Expect): Promise<RunOutcome & { sockets: number }> {
  const inventory = lab.ansibleInventory(n);
  fs.mkdirSync(BENCH_DIR, { recursive: true });
  const cp = fs.mkdtempSync(path.join(BENCH_DIR, 'cp-'));
  const before = lab.logins(n);
  const cpu0 = lab.serverCpu(n);
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: path.join(ANSIBLE_DIR, 'ansible.cfg'),
    ANSIBLE_FORKS: String(Math.max(n, 1)),
    ANSIBLE_SSH_CONTROL_PATH_DIR: cp,
    ANSIBLE_LOCAL_TEMP: path.join(cp, 'tmp'),
    ANSIBLE_NOCOLOR: '1',
  };
  let r: Timed;
  let sockets = 0;
  try {
    r = await timed(['ansible-playbook', '-i', inventory, playbook], { env, cwd: ANSIBLE_DIR, timeoutMs: 20 * 60_000, cpu: true });
  } finally {
    const socks = fs.readdirSync(cp).filter((f) => f !== 'tmp');
    sockets = socks.length;
    await Promise.all(socks.map((s) => timed(['ssh', '-o', `ControlPath=${path.join(cp, s)}`, '-O', 'exit', 'bench'], { timeoutMs: 10_000 })));
    fs.rmSync(cp, { recursive: true, force: true });
  }
  const recap = parseAnsibleRecap(r.stdout);
  if (!recap) throw new Error(`ansible-playbook exited ${r.code} without a recap:\n${tail(r)}`);
  const failures = () => r.stdout.split('\n').filter((l) => /^(fatal|failed):/.test(l)).slice(0, 5).join('\n') || tail(r);
  judge('ansible', expect, recap.changed, recap.failed, failures);
  if (r.code !== 0) throw new Error(`ansible-playbook exited ${r.code}:\n${tail(r)}`);
  const serverCpu = await serverCpuSince(lab, n, cpu0);
  return { seconds: r.seconds, logins: lab.logins(n) - before, changed: recap.changed, sockets, clientCpu: r.cpuSeconds, serverCpu };
}

