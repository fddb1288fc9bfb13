/**
 * What one remote call costs on a lab server, both ways Flight's SSH connection can send it: an
 * exec request (sshd answers each with a new session: a fork of sshd, the login shell's start),
 * and the shell session Flight uses by default (src/connection/session.ts: one long-lived shell
 * per connection runs the calls in a subshell each). Same connection code, same commands.
 */
import { loadInventory } from '../../src/engine/inventory.js';
import { script } from '../../src/command.js';
import { SshConnection } from '../../src/connection/ssh.js';
import type { BenchLab } from './labs.js';

export interface SessionCost {
  calls: number;
  /** An exec request (a new sshd session) per call. */
  execWallMs: number;
  execServerCpuMs: number;
  /** Calls run by the connection's shell session. */
  loopWallMs: number;
  loopServerCpuMs: number;
}

/** Measure on the lab's first server: `calls` times the stat read a `file` task makes, connection set-up included. */
export async function sessionCost(lab: BenchLab, calls = 30): Promise<SessionCost> {
  const { inventory } = await loadInventory({ defs: lab.flightDefs(1) });
  const host = inventory.hosts.get('lab-1')!;
  const cmd = script('st=$(stat -c %F/%a/%U/%G -- "$1" 2>/dev/null) || st=missing; printf "%s\\n" "$st"', '/etc/hostname');
  const measure = async (shellSession: boolean) => {
    const cpu0 = lab.serverCpu(1);
    const t0 = performance.now();
    const conn = await SshConnection.connect(host, { shellSession });
    for (let i = 0; i < calls; i++) {
      const r = await conn.exec(cmd);
      if (r.code !== 0) throw new Error(`the stat read answered rc=${r.code}: ${r.stderr}`);
    }
    const wall = (performance.now() - t0) / calls;
    await conn.close();
    await lab.settled(1);
    return { wall, cpu: ((lab.serverCpu(1) - cpu0) * 1000) / calls };
  };
  const exec = await measure(false);
  const loop = await measure(true);
  const r1 = (n: number) => Math.round(n * 10) / 10;
  return { calls, execWallMs: r1(exec.wall), execServerCpuMs: r1(exec.cpu), loopWallMs: r1(loop.wall), loopServerCpuMs: r1(loop.cpu) };
}

export function sessionCostText(c: SessionCost): string {
  return [
    `One remote call (the stat read of a file task), ${c.calls} calls in a row on one server, connection set-up included:`,
    `  an exec request per call (shellSession: false): ${c.execWallMs} ms wall, ${c.execServerCpuMs} ms server CPU per call`,
    `  Flight's shell session (the default):            ${c.loopWallMs} ms wall, ${c.loopServerCpuMs} ms server CPU per call`,
  ].join('\n') + '\n';
}
