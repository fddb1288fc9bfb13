/**
 * The release measurements: Flight's `app:release` against Capistrano and the floor script
 * (bench/floor.sh), on the fixture app (issue 7) and on the Laravel example app at 3 and 10
 * servers, and five Laravel apps released at once to the same servers against one alone
 * (issue 19). Tools take turns run by run, so a burst of other work hits them alike.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { currentBase } from '../../src/lab/base.js';
import { labPaths, serverName } from '../../src/lab/index.js';
import { makeLaravelRepo } from '../../lab-kit/repos.js';
import { BENCH_CACHE, BENCH_NET, BenchLab, haveAll, snapshotUpper } from './labs.js';
import { flightCli, ROOT, timed, timedOk, type Timed } from './proc.js';
import type { Measurement } from './report.js';
import { cpuOf, cpuText, measurement, push, secondsText, type Log } from './measurement.js';
import { median } from './stats.js';
import { checkedFlightRun, runFlightRelease, serverCpuSince, type RunOutcome } from './tools.js';

export const RELEASE_LABS = {
  fixture: { name: 'release', first: `${BENCH_NET}.160`, servers: 3 },
  laravel: { name: 'laravel', first: `${BENCH_NET}.170`, servers: 10 },
};

const CAP_USER = 'benchcap';
const CAP_HOME = `/home/${CAP_USER}`;
const FLOOR_HOME = '/home/benchfloor';

/** What an app is and does, the same for Flight, Capistrano and the floor. */
interface AppWork {
  /** The artisan commands of a release, in order. */
  artisan: string[];
  shared: string[];
}

const FIXTURE: AppWork = {
  artisan: ['config:cache', 'route:cache'],
  shared: ['storage/app/public', 'storage/framework/cache', 'storage/framework/sessions', 'storage/logs', '.env'],
};
/** The Laravel example app as bench/lib/laravel-lab.ts and the lab tests release it. */
const LARAVEL: AppWork = {
  artisan: ['config:cache', 'route:cache', 'event:cache', 'view:cache'],
  shared: ['storage/framework/cache', 'storage/framework/sessions', 'storage/logs', '.env'],
};

function appDefinition(name: string, repo: string, work: AppWork, servers: number): string {
  return [
    '# Written by the benchmark, released by Flight to the bench lab.',
    `repo: ${repo}`,
    'cluster: lab',
    'php: "8.2"',
    `domain: ${name}.flight.test`,
    '# The same steps Capistrano runs (bench/capistrano): no deploy commands, queues or health check.',
    'release_commands:',
    ...work.artisan.map((c) => `  - artisan ${c}`),
    'shared:',
    ...work.shared.map((p) => `  - ${p}`),
    'keep_releases: 5',
    'servers:',
    ...Array.from({ length: servers }, (_, i) => `  - name: ${serverName(i + 1)}`),
    '',
  ].join('\n');
}

/**
 * Provisioning (nginx, PHP, composer, ...) takes minutes, so each server's provisioned layer is
 * cached per lab base; a later bench run restores it in seconds.
 */
async function provisioned(lab: BenchLab, log: Log): Promise<void> {
  const names = Array.from({ length: lab.spec.servers }, (_, i) => serverName(i + 1));
  const need = ['/usr/bin/php8.2', '/usr/bin/composer'];
  const key = crypto.createHash('sha256').update(JSON.stringify({ v: 1, base: currentBase(labPaths().cache).hash })).digest('hex').slice(0, 12);
  const cached = (name: string) => path.join(BENCH_CACHE, `release-${key}-${name}.tar`);
  await lab.up();
  if (await haveAll(lab, names, need)) return;
  if (names.every((n) => fs.existsSync(cached(n)))) {
    log(`${lab.spec.name} lab: restoring the provisioned servers from the cache`);
    await lab.up({ fresh: true, seed: cached });
    if (await haveAll(lab, names, need)) return;
  }
  log(`${lab.spec.name} lab: provisioning ${names.length} servers with \`flight provision lab\` (once per lab base; minutes)`);
  await lab.up({ fresh: true });
  const t = await timedOk(['node', flightCli(), 'provision', 'lab', '--defs', lab.defs, '--json'], { timeoutMs: 30 * 60_000 });
  log(`${lab.spec.name} lab: provisioned in ${secondsText(t.seconds)}; caching the servers' layers`);
  await lab.down(false);
  for (const n of names) await snapshotUpper(lab, n, cached(n));
  await lab.up();
}

/**
 * Capistrano and the floor script on a lab: Capistrano logs in as the app's own user, which owns
 * the app's folder (the usual Capistrano set-up); the floor as root. Both run `work`.
 */
class Peers {
  constructor(private readonly lab: BenchLab, private readonly repo: string, private readonly sha: string, private readonly work: AppWork) {}

  async setUp(): Promise<void> {
    const pub = fs.readFileSync(this.lab.paths.publicKey, 'utf8').trim();
    const setup = [
      `id ${CAP_USER} >/dev/null 2>&1 || useradd --system --create-home --home-dir ${CAP_HOME} --shell /bin/bash ${CAP_USER}`,
      `install -d -o ${CAP_USER} -g ${CAP_USER} -m 0700 ${CAP_HOME}/.ssh`,
      `printf '%s\\n' '${pub}' > ${CAP_HOME}/.ssh/authorized_keys`,
      `chown ${CAP_USER}:${CAP_USER} ${CAP_HOME}/.ssh/authorized_keys && chmod 0600 ${CAP_HOME}/.ssh/authorized_keys`,
      `install -d -o ${CAP_USER} -g ${CAP_USER} ${CAP_HOME}/shared`,
      `test -e ${CAP_HOME}/shared/.env || install -o ${CAP_USER} -g ${CAP_USER} -m 0640 /dev/null ${CAP_HOME}/shared/.env`,
      `mkdir -p ${FLOOR_HOME}/releases`,
    ].join(' && ');
    await Promise.all(this.lab.servers.map((srv) => this.lab.ssh(srv.name, setup)));
  }

  private hosts(n: number): string[] {
    return this.lab.servers.slice(0, n).map((srv) => `${srv.address}:${srv.port}`);
  }

  async capistrano(n: number): Promise<RunOutcome> {
    const env = {
      ...process.env,
      BENCH_SERVERS: this.hosts(n).join(','),
      BENCH_USER: CAP_USER,
      BENCH_KEY: this.lab.paths.key,
      BENCH_KNOWN_HOSTS: this.lab.paths.knownHosts,
      BENCH_REPO: this.repo,
      BENCH_SHA: this.sha,
      BENCH_DEPLOY_TO: CAP_HOME,
      BENCH_ARTISAN: this.work.artisan.join(' '),
      BENCH_LINKED_DIRS: this.work.shared.filter((p) => p !== '.env').join(' '),
      BENCH_CAP_LOG: path.join(this.lab.dir, 'capistrano.log'),
    };
    return this.measured(n, async () => {
      const r = await timed(['cap', 'bench', 'deploy'], { cwd: path.join(ROOT, 'bench', 'capistrano'), env, timeoutMs: 10 * 60_000, cpu: true });
      if (r.code !== 0) throw new Error(`cap bench deploy exited ${r.code}:\n${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-30).join('\n')}`);
      return r;
    });
  }

  /** bench/floor.sh; `appSteps`: with composer and the artisan commands. */
  floor(n: number, appSteps: boolean): Promise<RunOutcome> {
    return this.measured(n, () => timedOk(['bash', path.join(ROOT, 'bench', 'floor.sh'), this.repo, this.sha, FLOOR_HOME, this.lab.paths.key, this.lab.paths.knownHosts, ...this.hosts(n)], {
      timeoutMs: 10 * 60_000, cpu: true,
      env: { ...process.env, FLOOR_APP_STEPS: appSteps ? '1' : '', FLOOR_ARTISAN: this.work.artisan.join(' ') },
    }));
  }

  private async measured(n: number, run: () => Promise<Timed>): Promise<RunOutcome> {
    const before = this.lab.logins(n);
    const cpu0 = this.lab.serverCpu(n);
    const r = await run();
    return { seconds: r.seconds, logins: this.lab.logins(n) - before, changed: 1, clientCpu: r.cpuSeconds, serverCpu: await serverCpuSince(this.lab, n, cpu0) };
  }
}

/** Release of the fixture app to 3 servers: Flight, Capistrano and the floor script in turn (issue 7). */
export async function releaseRun(o: { runs: number; log: Log; keep: boolean }): Promise<Measurement[]> {
  const lab = new BenchLab(RELEASE_LABS.fixture, o.log);
  fs.mkdirSync(lab.defs, { recursive: true });
  await provisioned(lab, o.log);
  try {
    const repo = path.join(lab.dir, 'repo');
    const sha = (await timedOk(['bash', path.join(ROOT, 'scripts', 'demo-repo')], { env: { ...process.env, FLIGHT_DEMO_REPO: repo } })).stdout.trim();
    fs.mkdirSync(path.join(lab.defs, 'apps'), { recursive: true });
    fs.writeFileSync(path.join(lab.defs, 'apps', 'bench.yml'), appDefinition('bench', repo, FIXTURE, 3));
    const peers = new Peers(lab, repo, sha, FIXTURE);
    await peers.setUp();
    const flight = () => runFlightRelease(lab, 'bench', sha, 3);

    // One untimed release each: the first creates users and folders, which later ones only check.
    o.log('release lab: one warm-up release with each tool');
    await flight();
    await peers.capistrano(3);
    await peers.floor(3, false);
    await peers.floor(3, true);

    const capM = measurement('release', 3, 'capistrano');
    const floorM = measurement('release', 3, 'floor');
    const floorAppM = measurement('release', 3, 'floor_app');
    for (let r = 1; r <= o.runs; r++) {
      const f = await flight();
      const c = await peers.capistrano(3);
      const fl = await peers.floor(3, false);
      const fa = await peers.floor(3, true);
      push(capM, f, c);
      push(floorM, f, fl);
      push(floorAppM, f, fa);
      o.log(`release 3 servers, run ${r}/${o.runs}: flight ${secondsText(f.seconds)} (${f.logins} logins; CPU ${cpuText(f)}), capistrano ${secondsText(c.seconds)} (${c.logins} logins; CPU ${cpuText(c)}), floor ${secondsText(fl.seconds)} (${fl.logins} logins; CPU ${cpuText(fl)}), floor with the app's steps ${secondsText(fa.seconds)} (CPU ${cpuText(fa)})`);
    }
    return [capM, floorM, floorAppM];
  } finally {
    if (!o.keep) await lab.down(true);
  }
}

/** The Laravel app's env: the app key it needs, no database or Redis (the pages say so). */
function laravelEnv(app: string): string {
  return `APP_NAME=${app}\nAPP_ENV=production\nAPP_DEBUG=false\nAPP_KEY=base64:${crypto.randomBytes(32).toString('base64')}\nLOG_CHANNEL=single\nCACHE_DRIVER=array\nSESSION_DRIVER=array\n`;
}

export const MANY_APPS = 5;

export interface LaravelReleaseResult {
  measurements: Measurement[];
  /** Where the time of the many-apps case goes, for the results page. */
  notes: string[];
  /** Flight's time per task in a release, one text block per size. */
  timings: string[];
}

/**
 * The Laravel example app released to 3 and 10 servers (Flight, Capistrano and the floor with the
 * same work, in turn), and `many` apps released at once to the same 3 servers by as many
 * `flight app:release` processes, against one of them released alone. Every app has its own
 * lock; none waits for another.
 */
export async function laravelReleaseRun(o: { sizes: number[]; runs: number; many: boolean; log: Log; keep: boolean }): Promise<LaravelReleaseResult> {
  const lab = new BenchLab({ ...RELEASE_LABS.laravel, servers: Math.max(3, ...o.sizes) }, o.log);
  fs.mkdirSync(path.join(lab.defs, 'apps'), { recursive: true });
  await provisioned(lab, o.log);
  const repo = makeLaravelRepo(lab.dir);
  try {
    const sha = repo.head();
    const sized = (n: number) => `lr${n}`;
    const manyApps = o.many ? Array.from({ length: MANY_APPS }, (_, i) => `many${i + 1}`) : [];
    const apps: Array<[string, number]> = [...o.sizes.map((n): [string, number] => [sized(n), n]), ...manyApps.map((a): [string, number] => [a, 3])];
    for (const f of fs.readdirSync(path.join(lab.defs, 'apps'))) fs.rmSync(path.join(lab.defs, 'apps', f));
    for (const [app, n] of apps) fs.writeFileSync(path.join(lab.defs, 'apps', `${app}.yml`), appDefinition(app, repo.dir, LARAVEL, n));
    // Untimed: each app configured (its user, pool and vhost) with an env, as a team's apps are.
    o.log(`laravel lab: configuring ${apps.length} apps`);
    for (const [app] of apps) {
      await timedOk(['node', flightCli(), 'app:configure', app, '--defs', lab.defs, '--json'], { timeoutMs: 15 * 60_000 });
      const envFile = path.join(os.tmpdir(), `flight-bench-${process.pid}-${app}.env`);
      fs.writeFileSync(envFile, laravelEnv(app), { mode: 0o600 });
      try {
        await timedOk(['node', flightCli(), 'env:push', app, envFile, '--defs', lab.defs, '--json'], { timeoutMs: 5 * 60_000 });
      } finally {
        fs.rmSync(envFile, { force: true });
      }
    }
    const peers = new Peers(lab, repo.dir, sha, LARAVEL);
    await peers.setUp();
    const out: Measurement[] = [];
    const notes: string[] = [];
    const timings: string[] = [];
    for (const n of o.sizes) {
      const flight = () => runFlightRelease(lab, sized(n), sha, n);
      o.log(`laravel release ${n} servers: one warm-up release with each tool`);
      await flight();
      await peers.capistrano(n);
      await peers.floor(n, true);
      const capM = measurement('laravel-release', n, 'capistrano');
      const floorM = measurement('laravel-release', n, 'floor_app');
      let last: RunOutcome | undefined;
      for (let r = 1; r <= o.runs; r++) {
        const f = (last = await flight());
        const c = await peers.capistrano(n);
        const fa = await peers.floor(n, true);
        push(capM, f, c);
        push(floorM, f, fa);
        o.log(`laravel release ${n} servers, run ${r}/${o.runs}: flight ${secondsText(f.seconds)} (${f.logins} logins; CPU ${cpuText(f)}), capistrano ${secondsText(c.seconds)} (${c.logins} logins; CPU ${cpuText(c)}), floor with the same work ${secondsText(fa.seconds)} (CPU ${cpuText(fa)})`);
      }
      out.push(capM, floorM);
      timings.push(taskTable(`Flight's Laravel release to ${n} servers, the last timed run (${secondsText(last!.seconds)} from spawn to exit); wall ms per task, servers in parallel`, last!));
    }
    if (manyApps.length) {
      const m = measurement('many-apps', 3, 'one_app');
      const one = () => runFlightRelease(lab, manyApps[0]!, sha, 3);
      const all = () => releaseAtOnce(lab, manyApps, sha, 3);
      o.log(`${manyApps.length} apps at once: one warm-up release of each`);
      await all();
      const busy: number[] = [];
      for (let r = 1; r <= o.runs; r++) {
        const a = await all();
        const b = await one();
        push(m, a.outcome, b);
        busy.push(a.busy);
        o.log(`${manyApps.length} apps at once to 3 servers, run ${r}/${o.runs}: ${secondsText(a.outcome.seconds)} (each app ${a.each.map((x) => x.toFixed(1)).join(', ')} s; CPU ${cpuText(a.outcome)}, the ${os.cpus().length} cores ${Math.round(a.busy * 100)}% busy), one app alone ${secondsText(b.seconds)} (CPU ${cpuText(b)})`);
      }
      const cpuMany = median(m.flightCpu!);
      const cpuOne = median(m.peerCpu!);
      out.push(m);
      notes.push(`${manyApps.length} apps at once: ${cpuMany.toFixed(1)} CPU s against ${cpuOne.toFixed(1)} for one app (${(cpuMany / cpuOne).toFixed(1)}x: the same work five times), and the machine's ${os.cpus().length} cores were ${Math.round(median(busy) * 100)}% busy over the run (median): the limit is CPU (composer and artisan on the servers, which share this machine's cores), not locks (one per app, none waited) nor sshd.`);
    }
    return { measurements: out, notes, timings };
  } finally {
    repo.cleanup();
    if (!o.keep) await lab.down(true);
  }
}

/**
 * `apps` released at the same time, each by its own `flight app:release` process, as five CI
 * jobs would: the wall time of the whole (first spawn to last exit), the CPU of all of them, and
 * how busy the machine's cores were over it (/proc/stat).
 */
async function releaseAtOnce(lab: BenchLab, apps: string[], sha: string, n: number): Promise<{ outcome: RunOutcome; each: number[]; busy: number }> {
  const before = lab.logins(n);
  const cpu0 = lab.serverCpu(n);
  const idle0 = machineTicks();
  const t0 = performance.now();
  const runs = await Promise.all(apps.map((app) => timed(['node', flightCli(), 'app:release', app, sha, '--defs', lab.defs, '--json'], { timeoutMs: 15 * 60_000, cpu: true })));
  const seconds = (performance.now() - t0) / 1000;
  const idle1 = machineTicks();
  const serverCpu = await serverCpuSince(lab, n, cpu0);
  runs.forEach((r, i) => checkedFlightRun(r, 'change', `flight app:release ${apps[i]}`));
  const clientCpu = runs.reduce((a, r) => a + (r.cpuSeconds ?? 0), 0);
  const busy = 1 - (idle1.idle - idle0.idle) / Math.max(1, idle1.total - idle0.total);
  return { outcome: { seconds, logins: lab.logins(n) - before, changed: apps.length, clientCpu, serverCpu }, each: runs.map((r) => r.seconds), busy };
}

/** The machine's CPU ticks so far, all and idle (iowait counts as idle), from /proc/stat. */
function machineTicks(): { total: number; idle: number } {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3]! + fields[4]! };
}

/** A run's task times as a text block for the results page. */
function taskTable(title: string, run: RunOutcome): string {
  return [`${title}:`, ...(run.tasks ?? []).map((t) => `  ${String(t.ms).padStart(6)}  ${t.task}`)].join('\n') + '\n';
}
