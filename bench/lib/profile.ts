/**
 * Where a Flight no-change run spends its time. The playbook runs in this process on the
 * engine `flight-play` uses (src/engine), with the connection pool wrapped so that every SSH handshake
 * and every remote call (exec, put, get) is counted and timed, and every runner event is
 * time-stamped. What the process itself costs before it runs anything (Node's start and loading
 * Flight's modules) is measured apart, with `flight-play --version`.
 */
import { loadInventory } from '../../src/engine/inventory.js';
import { loadPlaybook } from '../../src/engine/playbooks.js';
import { runPlaybookIn } from '../../src/engine/run.js';
import type { Connection, ExecOptions, PutOptions } from '../../src/connection/types.js';
import { ConnectionPool } from '../../src/connection/index.js';
import type { Command } from '../../src/command.js';
import type { Host } from '../../src/inventory/types.js';
import type { ConnectionSource } from '../../src/runner/connect.js';
import type { RunEvent } from '../../src/runner/events.js';
import { median } from './stats.js';
import { flightPlay, timed } from './proc.js';

export interface TaskProfile {
  task: string;
  ms: number;
  /** Remote calls per host (exec + put + get). */
  callsPerHost: number;
  /** Median over hosts of the time spent waiting on remote calls. */
  remoteMsPerHost: number;
}

export interface Profile {
  servers: number;
  /** `flight-play --version`: Node's start plus loading Flight's code. */
  startupMs: number;
  /** Reading the definitions and the playbook, before any connection. */
  loadMs: number;
  runMs: number;
  /** SSH handshake and login per host (median and slowest). */
  connectMs: { median: number; max: number };
  /** The facts read right after login, per host. */
  factsMs: { median: number; max: number };
  /** From the run's start until every host had its connection and facts. */
  firstTaskMs: number;
  tasks: TaskProfile[];
  callsPerHost: number;
  /** Remote calls per task per host, facts excluded. */
  callsPerTask: number;
  /** Run time not spent inside tasks (between tasks, handlers, recap). */
  betweenTasksMs: number;
  /** Parallel `ssh HOST true` to every host with OpenSSH: one cold round trip per server. */
  sshFloorMs: number;
}

interface CallStats {
  calls: number;
  ms: number;
}

/** Wraps every connection so each remote call is counted and timed, per host and task. */
class ProfilingSource implements ConnectionSource {
  readonly connectMs = new Map<string, number>();
  readonly factsMs = new Map<string, number>();
  /** host -> calls in the current task. */
  current = new Map<string, CallStats>();
  private seen = new Set<string>();
  constructor(private readonly pool: ConnectionPool) {}

  get opened(): number {
    return this.pool.opened;
  }

  async get(host: Host): Promise<Connection> {
    const t0 = performance.now();
    const conn = await this.pool.get(host);
    if (!this.connectMs.has(host.name)) this.connectMs.set(host.name, performance.now() - t0);
    return this.wrap(conn, host.name);
  }

  private wrap(conn: Connection, name: string): Connection {
    const track = async <T>(fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        const ms = performance.now() - t0;
        // The runner's first call on a new connection is the facts read.
        if (!this.seen.has(name)) {
          this.seen.add(name);
          this.factsMs.set(name, ms);
        } else {
          const s = this.current.get(name) ?? { calls: 0, ms: 0 };
          s.calls++;
          s.ms += ms;
          this.current.set(name, s);
        }
      }
    };
    return {
      hostName: conn.hostName,
      loginUser: conn.loginUser,
      exec: (cmd: Command, opts?: ExecOptions) => track(() => conn.exec(cmd, opts)),
      put: (p: string, data: string | Buffer, opts?: PutOptions & { become?: boolean | string }) => track(() => conn.put(p, data, opts)),
      get: (p: string, opts?: { become?: boolean | string }) => track(() => conn.get(p, opts)),
      close: () => conn.close(),
    };
  }
}

const q = (xs: number[]) => ({ median: Math.round(xs.length ? median(xs) : 0), max: Math.round(xs.length ? Math.max(...xs) : 0) });

export async function profileRun(defs: string, playbook: string, servers: number, addresses: { address: string; port: number }[], ssh: { key: string; knownHosts: string }): Promise<Profile> {
  const startup = await timed(['node', flightPlay(), '--version']);
  const t0 = performance.now();
  const { inventory } = await loadInventory({ defs });
  const pb = loadPlaybook(playbook);
  const loadMs = performance.now() - t0;
  const pool = new ConnectionPool();
  const source = new ProfilingSource(pool);
  const tasks: TaskProfile[] = [];
  let taskStart = 0;
  let runStart = 0;
  let firstTaskEnd = 0;
  let inTasksMs = 0;
  const emit = (e: RunEvent) => {
    const now = performance.now();
    if (e.event === 'task_start') {
      taskStart = now;
      source.current = new Map();
    } else if (e.event === 'task_end') {
      if (!firstTaskEnd) firstTaskEnd = now;
      inTasksMs += now - taskStart;
      const per = [...source.current.values()];
      tasks.push({
        task: e.task,
        ms: Math.round(now - taskStart),
        callsPerHost: per.length ? Math.round((per.reduce((a, s) => a + s.calls, 0) / per.length) * 10) / 10 : 0,
        remoteMsPerHost: Math.round(per.length ? median(per.map((s) => s.ms)) : 0),
      });
    }
  };
  try {
    runStart = performance.now();
    await runPlaybookIn({ playbook: pb, inventory, connections: source, forks: Math.max(servers, 1), onEvent: emit });
  } finally {
    await pool.closeAll();
  }
  const runMs = performance.now() - runStart;
  const floor = await timed(['bash', '-c', addresses.map((a) =>
    `ssh -i ${ssh.key} -o IdentitiesOnly=yes -o UserKnownHostsFile=${ssh.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes -p ${a.port} root@${a.address} true &`).join('\n') + '\nwait']);
  // The first task's own calls exclude connect and facts (see ProfilingSource).
  const totalCalls = tasks.reduce((a, t) => a + t.callsPerHost, 0);
  return {
    servers,
    startupMs: Math.round(startup.seconds * 1000),
    loadMs: Math.round(loadMs),
    runMs: Math.round(runMs),
    connectMs: q([...source.connectMs.values()]),
    factsMs: q([...source.factsMs.values()]),
    firstTaskMs: Math.round(firstTaskEnd - runStart),
    tasks,
    callsPerHost: Math.round(totalCalls * 10) / 10,
    callsPerTask: tasks.length ? Math.round((totalCalls / tasks.length) * 100) / 100 : 0,
    betweenTasksMs: Math.round(runMs - inTasksMs),
    sshFloorMs: Math.round(floor.seconds * 1000),
  };
}

export function profileText(p: Profile): string {
  const lines = [
    `Flight no-change profile, ${p.servers} servers:`,
    `  process start (node + Flight's modules, flight-play --version): ${p.startupMs} ms`,
    `  definitions + playbook load: ${p.loadMs} ms`,
    `  run: ${p.runMs} ms, of which first task (connect + facts + task) ${p.firstTaskMs} ms`,
    `    SSH connect per host: median ${p.connectMs.median} ms, slowest ${p.connectMs.max} ms`,
    `    facts per host: median ${p.factsMs.median} ms, slowest ${p.factsMs.max} ms`,
    `    remote calls: ${p.callsPerHost} per host, ${p.callsPerTask} per task per host`,
    `    outside tasks: ${p.betweenTasksMs} ms`,
    `  one OpenSSH round trip to every host in parallel (ssh HOST true): ${p.sshFloorMs} ms`,
    '  per task (wall ms | calls/host | remote ms/host):',
    ...p.tasks.map((t) => `    ${String(t.ms).padStart(6)} | ${String(t.callsPerHost).padStart(4)} | ${String(t.remoteMsPerHost).padStart(5)}  ${t.task}`),
  ];
  return lines.join('\n') + '\n';
}
