/**
 * The benchmark's own lab instances: separate state dirs and addresses from the default lab
 * (127.0.0.2-4), which other test runs use all the time.
 *
 * "Fresh" servers start from the bench image: the lab's base plus a few packages (supervisor,
 * cron, tree, python3-apt) installed once and cached as a tarball of the overlay's upper layer.
 * apt-get is slow here (15-30 s per install, mostly dpkg's syncs, not the download): installing
 * packages on every fresh server would time dpkg, not the tools, and take most of the budget.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { labDown, labPaths, labUp, serverName, type LabServerInfo } from '../../src/lab/index.js';
import { currentBase } from '../../src/lab/base.js';
import { renderClusterFile } from '../../src/lab/cluster-file.js';
import { serverPaths } from '../../src/lab/paths.js';
import { timed, timedOk } from './proc.js';

export const BENCH_DIR = path.resolve(process.env.FLIGHT_BENCH_DIR || '/var/lib/flight-bench');
export const BENCH_CACHE = path.resolve(process.env.FLIGHT_BENCH_CACHE || '/var/cache/flight-bench');
/**
 * The first three parts of the bench labs' addresses (.100-.149 no-change, .160-.162 release,
 * .165 image builds, .170-.179 Laravel releases, .200-.249 change). Another value (with another FLIGHT_BENCH_DIR) lets two
 * bench runs share the machine.
 */
export const BENCH_NET = process.env.FLIGHT_BENCH_NET || '127.0.0';

/** Packages the bench image adds to the lab's base. python3-apt: Ansible's apt module needs it. */
export const IMAGE_PACKAGES = ['supervisor', 'cron', 'tree', 'python3-apt'];
const IMAGE_VERSION = 1;

/** Per-server files the lab writes at every start, and caches that only take room. */
const SNAPSHOT_EXCLUDES = [
  './etc/ssh/ssh_host_*',
  './etc/ssh/sshd_config.d/flight-lab.conf',
  './root/.ssh',
  './etc/hostname',
  './etc/hosts',
  './etc/resolv.conf',
  './var/log/sshd.log',
  './var/cache/apt/*.bin',
  './var/cache/apt/archives/*.deb',
];

const TAR_XATTRS = ['--xattrs', '--xattrs-include=*', '--numeric-owner'];

type Log = (line: string) => void;

/** USER_HZ: /proc reports times in these; 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** comm and the numeric fields after the state letter: fields[0] is ppid, [10..13] utime stime cutime cstime. */
function readStat(pid: number): { comm: string; fields: number[] } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const open = text.indexOf('(');
    const close = text.lastIndexOf(')');
    // After "pid (comm) S": ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
    const rest = text.slice(close + 2).split(' ');
    return { comm: text.slice(open + 1, close), fields: rest.slice(1).map(Number) };
  } catch {
    return undefined;
  }
}

export interface BenchLabSpec {
  /** Names the state dir under BENCH_DIR. */
  name: string;
  first: string;
  servers: number;
}

export class BenchLab {
  readonly dir: string;
  readonly defs: string;
  servers: LabServerInfo[] = [];

  constructor(readonly spec: BenchLabSpec, private readonly log: Log) {
    this.dir = path.join(BENCH_DIR, spec.name);
    this.defs = path.join(this.dir, 'defs');
  }

  get paths() {
    return labPaths(this.dir);
  }

  get sshConfig(): string {
    return this.paths.sshConfig;
  }

  /**
   * Start the servers. `fresh`: throw away every server's root first and start from `seed` (a
   * tarball of an upper layer, or a function naming one per server), else keep what runs.
   */
  async up(o: { fresh?: boolean; seed?: string | ((name: string) => string | undefined) } = {}): Promise<void> {
    if (o.fresh) {
      // A server's last processes (a daemon the tool under test started) can still be writing
      // as the purge removes its files: removing again once they are gone finishes the job.
      for (let attempt = 1; ; attempt++) {
        try {
          await labDown({ dir: this.dir, purge: true });
          break;
        } catch (err) {
          if (attempt >= 5 || (err as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw err;
          this.log(`${this.spec.name} lab: purge interrupted (${(err as Error).message}); again in 1 s`);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      if (o.seed) await this.seed(o.seed);
    }
    // On a busy machine a server's sshd can miss the lab's start deadline; `up` again restarts
    // exactly the servers that do not answer and keeps the rest.
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await labUp({ dir: this.dir, servers: this.spec.servers, first: this.spec.first, defs: this.defs, parallel: 8 });
        this.servers = res.servers;
        return;
      } catch (err) {
        if (attempt >= 4) throw err;
        this.log(`${this.spec.name} lab: some servers did not start (${(err as Error).message.split('\n')[0]}); trying again`);
      }
    }
  }

  private async seed(seed: string | ((name: string) => string | undefined)): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    for (let i = 1; i <= this.spec.servers; i++) {
      const name = serverName(i);
      const file = typeof seed === 'string' ? seed : seed(name);
      if (!file) continue;
      const upper = serverPaths(this.paths, name).upper;
      fs.mkdirSync(upper, { recursive: true });
      jobs.push(timedOk(['tar', ...TAR_XATTRS, '-xf', file, '-C', upper]));
    }
    await Promise.all(jobs);
  }

  async down(purge = false): Promise<void> {
    await labDown({ dir: this.dir, purge });
  }

  /** Run a shell line on one server as root, over plain ssh (set-up only, never timed). */
  ssh(name: string, line: string, input?: string | Buffer) {
    return timedOk(['ssh', '-F', this.sshConfig, '-o', 'BatchMode=yes', name, line], { input, timeoutMs: 20 * 60_000 });
  }

  /** The server's sshd log as the host sees it: in the overlay's upper layer (or the copied root). */
  private sshdLog(name: string): string {
    const sp = serverPaths(this.paths, name);
    const upper = path.join(sp.upper, 'var/log/sshd.log');
    return fs.existsSync(upper) ? upper : path.join(sp.root, 'var/log/sshd.log');
  }

  /**
   * SSH logins so far on the first `n` servers, from their sshd logs: the same count for every
   * tool, whatever it reports about itself.
   */
  logins(n = this.spec.servers): number {
    let total = 0;
    for (let i = 1; i <= n; i++) {
      let text = '';
      try {
        text = fs.readFileSync(this.sshdLog(serverName(i)), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) if (line.includes('Accepted publickey')) total++;
    }
    return total;
  }

  /**
   * CPU seconds spent so far by everything sshd ran on the first `n` servers: the sshd listener's
   * own time plus its reaped children's (every connection, session and command below it), plus
   * what the server's PID 1 reaped (orphans: a shell session outliving its sshd process). Unlike
   * wall time this hardly moves with other load on the machine. Read once the tool has exited and
   * its connections are closed, or the last sessions are not counted yet.
   */
  serverCpu(n = this.spec.servers): number {
    let ticks = 0;
    for (const srv of this.servers.slice(0, n)) {
      if (!srv.pid) continue;
      // Processes whose parent went first are reaped by the server's PID 1 (the lab's reaper):
      // Flight's shell sessions when a connection closes, daemons. Their time is counted there.
      const init = readStat(srv.pid);
      if (init) ticks += init.fields[12]! + init.fields[13]!;
      for (const child of childrenOf(srv.pid)) {
        const stat = readStat(child);
        if (stat?.comm === 'sshd') ticks += stat.fields[10]! + stat.fields[11]! + stat.fields[12]! + stat.fields[13]!;
      }
    }
    return ticks / CLOCK_TICKS;
  }

  /**
   * Wait (up to `ms`) until sshd on the first `n` servers has no connection left: only then has
   * the listener reaped the sessions, and serverCpu counts their time.
   */
  async settled(n = this.spec.servers, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    const listeners = (): number[] =>
      this.servers.slice(0, n).flatMap((srv) => (srv.pid ? childrenOf(srv.pid).filter((c) => readStat(c)?.comm === 'sshd') : []));
    while (Date.now() < deadline) {
      if (listeners().every((l) => childrenOf(l).length === 0)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** A definitions folder whose one cluster holds the first `n` servers. */
  flightDefs(n: number): string {
    const dir = path.join(this.dir, `defs-${n}`);
    const file = path.join(dir, 'clusters', 'bench.yml');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const servers = this.servers.slice(0, n).map((s) => ({ ...s, web: false }));
    fs.writeFileSync(file, renderClusterFile(servers, this.paths.key, this.paths.knownHosts));
    return dir;
  }

  /** An Ansible inventory of the first `n` servers, with the lab's key and known_hosts. */
  ansibleInventory(n: number): string {
    const file = path.join(this.dir, `ansible-${n}.yml`);
    const hosts = this.servers.slice(0, n).map((s) => `    ${s.name}: { ansible_host: ${s.address}, ansible_port: ${s.port} }`);
    const sshArgs = `-o UserKnownHostsFile=${this.paths.knownHosts} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes`;
    fs.writeFileSync(
      file,
      [
        '# Written by the benchmark: the bench lab for Ansible.',
        'all:',
        '  hosts:',
        ...hosts,
        '  vars:',
        '    ansible_user: root',
        `    ansible_ssh_private_key_file: ${this.paths.key}`,
        `    ansible_ssh_common_args: "${sshArgs}"`,
        '',
      ].join('\n'),
    );
    return file;
  }
}

/** Snapshot a stopped server's upper layer, minus what the lab rewrites at each start. */
export async function snapshotUpper(lab: BenchLab, name: string, file: string): Promise<void> {
  const upper = serverPaths(lab.paths, name).upper;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await timedOk(['tar', ...TAR_XATTRS, ...SNAPSHOT_EXCLUDES.map((e) => `--exclude=${e}`), '-cf', tmp, '-C', upper, '.']);
  fs.renameSync(tmp, file);
}

/** apt-get install from the base's package lists; refresh them only when they have gone stale. */
export function aptInstallLine(packages: string[]): string {
  const install = `DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${packages.join(' ')}`;
  return `(${install} || (apt-get update -q && ${install})) >/tmp/bench-apt.log 2>&1 || { tail -20 /tmp/bench-apt.log; exit 1; }; apt-get clean`;
}

function imageKey(extra: unknown): string {
  const cache = labPaths().cache;
  return crypto
    .createHash('sha256')
    .update(JSON.stringify({ v: IMAGE_VERSION, base: currentBase(cache).hash, packages: IMAGE_PACKAGES, excludes: SNAPSHOT_EXCLUDES, extra }))
    .digest('hex')
    .slice(0, 12);
}

/** Every file under `dirs`, hashed with its path: a changed playbook or template makes a new image. */
export function treeHash(dirs: string[]): string {
  const h = crypto.createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) h.update(full).update('\0').update(fs.readFileSync(full)).update('\0');
    }
  };
  for (const d of dirs) walk(d);
  return h.digest('hex').slice(0, 16);
}

/**
 * A bench image: built once on a throwaway server (lab base, then `build`), kept in BENCH_CACHE
 * as a tarball of the server's overlay layer. Returns the tarball to seed servers with.
 */
async function ensureSnapshot(name: string, key: string, what: string, log: Log, seed: string | undefined, build: (lab: BenchLab) => Promise<void>): Promise<string> {
  const file = path.join(BENCH_CACHE, `${name}-${key}.tar`);
  if (fs.existsSync(file)) return file;
  log(`building the bench ${what}: once, then cached in ${BENCH_CACHE}`);
  const lab = new BenchLab({ name: 'image', first: `${BENCH_NET}.165`, servers: 1 }, log);
  await lab.up({ fresh: true, seed });
  try {
    await build(lab);
    await lab.down(false);
    await snapshotUpper(lab, 'lab-1', file);
  } finally {
    await lab.down(true);
  }
  return file;
}

/** Fresh servers: the lab's base plus IMAGE_PACKAGES. */
export function ensureImage(log: Log): Promise<string> {
  return ensureSnapshot('image', imageKey(null), `image (lab base + ${IMAGE_PACKAGES.join(', ')})`, log, undefined, async (lab) => {
    await lab.ssh('lab-1', aptInstallLine(IMAGE_PACKAGES));
  });
}

/**
 * Converged servers: the bench image with `converge` (both tools' first applies) run on it.
 * Seeding the no-change lab from this spares 50 first applies, which take Ansible minutes; the
 * bench still checks every timed run changed nothing.
 */
export async function ensureConvergedImage(log: Log, inputs: string[], converge: (lab: BenchLab) => Promise<void>): Promise<string> {
  const image = await ensureImage(log);
  return ensureSnapshot('converged', imageKey(treeHash(inputs)), 'converged image (both playbooks applied)', log, image, converge);
}

/** Whether every listed server has the given executables (a cheap check that set-up is done). */
export async function haveAll(lab: BenchLab, names: string[], executables: string[]): Promise<boolean> {
  const test = executables.map((e) => `test -x ${e}`).join(' && ');
  const results = await Promise.all(names.map((n) => timed(['ssh', '-F', lab.sshConfig, '-o', 'BatchMode=yes', n, test], { timeoutMs: 60_000 })));
  return results.every((r) => r.code === 0);
}
