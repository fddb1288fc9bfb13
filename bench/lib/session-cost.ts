/**
 * What one remote call costs on a lab server, and what it would cost without a new SSH session
 * per call. Flight sends each call as an exec request on its one connection; sshd answers every
 * one with a new session (a fork of sshd, the login shell's start) before the command itself
 * runs. The alternative measured here keeps one session per connection open with a small shell
 * loop that reads each command line and runs it in a subshell, ending each answer with a marker:
 * the same commands, one session. This is a measurement of that design, not Flight's code path.
 */
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { loadInventory } from '../../src/cli/play.js';
import { script, toShell } from '../../src/command.js';
import { SshConnection } from '../../src/connection/ssh.js';
import type { BenchLab } from './labs.js';

export interface SessionCost {
  calls: number;
  /** Flight's way: an exec request (new session) per call. */
  execWallMs: number;
  execServerCpuMs: number;
  /** One session per connection, each call a subshell of a shell loop. */
  loopWallMs: number;
  loopServerCpuMs: number;
}

/** The loop: "<line count>\n<lines>" in, the command's output then "<marker>:<rc>" out (and the marker on stderr). */
function loopScript(marker: string): string {
  return [
    'while IFS= read -r n; do',
    '  c=',
    '  while [ "$n" -gt 0 ]; do IFS= read -r l; c="$c$l',
    '"; n=$((n - 1)); done',
    '  ( eval "$c" ) </dev/null',
    '  rc=$?',
    `  printf '%s:%d\\n' ${marker} "$rc"`,
    `  printf '%s\\n' ${marker} >&2`,
    'done',
  ].join('\n');
}

class LoopShell {
  private out = '';
  private err = '';
  private wake?: () => void;
  constructor(private readonly stream: ClientChannel, private readonly marker: string) {
    stream.on('data', (d: Buffer) => {
      this.out += d.toString('utf8');
      this.wake?.();
    });
    stream.stderr.on('data', (d: Buffer) => {
      this.err += d.toString('utf8');
      this.wake?.();
    });
  }

  async run(line: string): Promise<{ rc: number; stdout: string; stderr: string }> {
    const lines = line.split('\n');
    this.stream.write(`${lines.length}\n${line}\n`);
    const end = `${this.marker}:`;
    while (!(this.out.includes(end) && this.err.includes(this.marker))) await new Promise<void>((r) => (this.wake = r));
    const i = this.out.indexOf(end);
    const j = this.out.indexOf('\n', i);
    const k = this.err.indexOf(this.marker);
    const res = { rc: Number(this.out.slice(i + end.length, j)), stdout: this.out.slice(0, i), stderr: this.err.slice(0, k) };
    this.out = this.out.slice(j + 1);
    this.err = this.err.slice(k + this.marker.length + 1);
    return res;
  }
}

/** Measure on the lab's first server: `calls` times the stat read a `file` task makes. */
export async function sessionCost(lab: BenchLab, calls = 30): Promise<SessionCost> {
  const inventory = await loadInventory({ defs: lab.flightDefs(1) });
  const host = inventory.hosts.get('lab-1')!;
  const cmd = script('st=$(stat -c %F/%a/%U/%G -- "$1" 2>/dev/null) || st=missing; printf "%s\\n" "$st"', '/etc/hostname');

  let cpu0 = lab.serverCpu(1);
  const conn = await SshConnection.connect(host);
  let t0 = performance.now();
  for (let i = 0; i < calls; i++) await conn.exec(cmd);
  const execWall = (performance.now() - t0) / calls;
  await conn.close();
  await lab.settled(1);
  const execCpu = ((lab.serverCpu(1) - cpu0) * 1000) / calls;

  cpu0 = lab.serverCpu(1);
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve()).once('error', reject);
    client.connect({ host: host.address, port: host.ssh.port, username: host.ssh.user, privateKey: fs.readFileSync(lab.paths.key), hostVerifier: () => true });
  });
  const marker = `FLIGHT-END-${randomBytes(16).toString('hex')}`;
  const stream = await new Promise<ClientChannel>((resolve, reject) =>
    client.exec(toShell(script(loopScript(marker))), (err, s) => (err ? reject(err) : resolve(s))),
  );
  const shell = new LoopShell(stream, marker);
  const line = toShell(cmd);
  t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const r = await shell.run(line);
    if (r.rc !== 0) throw new Error(`the loop shell answered rc=${r.rc}: ${r.stderr}`);
  }
  const loopWall = (performance.now() - t0) / calls;
  stream.end();
  client.end();
  await lab.settled(1);
  const loopCpu = ((lab.serverCpu(1) - cpu0) * 1000) / calls;
  const r1 = (n: number) => Math.round(n * 10) / 10;
  return { calls, execWallMs: r1(execWall), execServerCpuMs: r1(execCpu), loopWallMs: r1(loopWall), loopServerCpuMs: r1(loopCpu) };
}

export function sessionCostText(c: SessionCost): string {
  return [
    `One remote call (the stat read of a file task), ${c.calls} calls in a row on one server, connection set-up included:`,
    `  exec request per call (Flight today): ${c.execWallMs} ms wall, ${c.execServerCpuMs} ms server CPU per call`,
    `  one session per connection, calls run by a shell loop: ${c.loopWallMs} ms wall, ${c.loopServerCpuMs} ms server CPU per call`,
  ].join('\n') + '\n';
}
