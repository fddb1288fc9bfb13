/** What the numbers were measured on: they mean little without it. */
import fs from 'node:fs';
import os from 'node:os';
import { timed } from './proc.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  debian: string;
  node: string;
  ansible: string;
  capistrano: string;
  ruby: string;
  openssh: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews every figure. */
  loadStart: number;
  loadEnd?: number;
}

async function firstLine(argv: string[], stream: 'stdout' | 'stderr' = 'stdout'): Promise<string> {
  try {
    const r = await timed(argv, { timeoutMs: 30_000 });
    return (r[stream] || r.stdout || r.stderr).trim().split('\n')[0] ?? '';
  } catch {
    return 'not installed';
  }
}

export async function describeMachine(): Promise<Machine> {
  let debian = '';
  try {
    debian = fs.readFileSync('/etc/debian_version', 'utf8').trim();
  } catch {
    debian = 'unknown';
  }
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    debian,
    node: process.version,
    ansible: await firstLine(['ansible-playbook', '--version']),
    capistrano: await firstLine(['cap', '--version']),
    ruby: await firstLine(['ruby', '--version']),
    openssh: await firstLine(['ssh', '-V'], 'stderr'),
    loadStart: Math.round(os.loadavg()[0]! * 100) / 100,
  };
}

export function machineText(m: Machine): string {
  return [
    `${m.cpus} x ${m.cpuModel}, ${m.memoryGiB} GiB memory, Linux ${m.kernel}, Debian ${m.debian}`,
    `Node ${m.node}; ${m.ansible}; ${m.capistrano}; ${m.ruby}; ${m.openssh}`,
    `1-minute load average read at the start and end: ${m.loadStart} to ${m.loadEnd ?? '?'}`,
  ].join('\n');
}
