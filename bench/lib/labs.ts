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
      await labDown({ dir: this.dir, purge: true });
      if (o.seed) await this.seed(o.seed);
    }
    const res = await labUp({ dir: this.dir, servers: this.spec.servers, first: this.spec.first, defs: this.defs, parallel: 25 });
    this.servers = res.servers;
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

/**
 * The bench image: built once per lab base and package list on a throwaway server, then kept in
 * BENCH_CACHE. Returns the tarball to seed fresh servers with.
 */
export async function ensureImage(log: Log): Promise<string> {
  const cache = labPaths().cache;
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify({ v: IMAGE_VERSION, base: currentBase(cache).hash, packages: IMAGE_PACKAGES, excludes: SNAPSHOT_EXCLUDES }))
    .digest('hex')
    .slice(0, 12);
  const file = path.join(BENCH_CACHE, `image-${key}.tar`);
  if (fs.existsSync(file)) return file;
  log(`building the bench image (lab base + ${IMAGE_PACKAGES.join(', ')}): once, about a minute`);
  const lab = new BenchLab({ name: 'image', first: '127.0.0.165', servers: 1 }, log);
  await lab.up({ fresh: true });
  try {
    await lab.ssh('lab-1', aptInstallLine(IMAGE_PACKAGES));
    await lab.down(false);
    await snapshotUpper(lab, 'lab-1', file);
  } finally {
    await lab.down(true);
  }
  return file;
}

/** Whether every listed server has the given executables (a cheap check that set-up is done). */
export async function haveAll(lab: BenchLab, names: string[], executables: string[]): Promise<boolean> {
  const test = executables.map((e) => `test -x ${e}`).join(' && ');
  const results = await Promise.all(names.map((n) => timed(['ssh', '-F', lab.sshConfig, '-o', 'BatchMode=yes', n, test], { timeoutMs: 60_000 })));
  return results.every((r) => r.code === 0);
}
