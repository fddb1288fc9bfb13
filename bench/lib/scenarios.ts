/**
 * The four measurements of issue 7. In each, the tools take turns run by run (Flight, peer,
 * Flight, peer, ...), so a burst of other work on the machine hits both alike.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentBase } from '../../src/lab/base.js';
import { labPaths } from '../../src/lab/index.js';
import { BENCH_CACHE, BENCH_NET, BenchLab, ensureConvergedImage, ensureImage, haveAll, snapshotUpper } from './labs.js';
import { flightCli, ROOT, timed, timedOk } from './proc.js';
import type { Measurement, Peer } from './report.js';
import { ANSIBLE_DIR, runAnsible, runFlightPlay, runFlightRelease, serverCpuSince, type RunOutcome } from './tools.js';

export type Log = (line: string) => void;

export const FLIGHT_PLAYBOOK = path.join(ROOT, 'bench', 'playbooks', 'flight-20.yml');
export const ANSIBLE_PLAYBOOK = path.join(ANSIBLE_DIR, 'site.yml');

const s = (x: number) => `${x.toFixed(2)} s`;
/** "1.20 s client + 0.80 s servers". */
const cpu = (r: RunOutcome) => `${(r.clientCpu ?? 0).toFixed(2)} s client + ${(r.serverCpu ?? 0).toFixed(2)} s servers`;

/** Lab instances, apart from the default lab (127.0.0.2-4) and from each other. */
export const LABS = {
  fanout: (servers: number) => ({ name: 'fanout', first: `${BENCH_NET}.100`, servers }),
  change: (servers: number) => ({ name: 'change', first: `${BENCH_NET}.150`, servers }),
  release: { name: 'release', first: `${BENCH_NET}.160`, servers: 3 },
};

/** The untimed runs that readied the no-change lab: Flight on every server, Ansible on one. */
export interface Readied {
  flight: number;
  ansible: number;
  servers: number;
}

/**
 * The no-change lab: `max` servers seeded with the converged image, so both tools' state is
 * already in place everywhere (runs on n servers use the first n).
 */
export async function noChangeLab(max: number, log: Log): Promise<{ lab: BenchLab; readied: Readied }> {
  const converged = await ensureConvergedImage(log, [path.join(ROOT, 'bench', 'playbooks'), ANSIBLE_DIR], async (tpl) => {
    await runFlightPlay(tpl, 1, FLIGHT_PLAYBOOK, 'change');
    await runAnsible(tpl, 1, ANSIBLE_PLAYBOOK, 'change');
  });
  const lab = new BenchLab(LABS.fanout(max), log);
  log(`no-change lab: ${max} servers from ${lab.spec.first}, seeded with the converged image`);
  await lab.up({ fresh: true, seed: converged });
  // /run is new at every server start: supervisord (and with it both worker programs) is not running.
  await Promise.all(lab.servers.map((srv) => lab.ssh(srv.name, 'service supervisor start >/dev/null')));
  // Untimed: Flight settles anything it renders differently since the image was built, and
  // Ansible checks on one server that the seeded state is its converged state.
  const fc = await runFlightPlay(lab, max, FLIGHT_PLAYBOOK, 'any');
  const ac = await runAnsible(lab, 1, ANSIBLE_PLAYBOOK, 'no-change');
  log(`lab ready: flight settle run on ${max} servers ${s(fc.seconds)} (${fc.changed} changed), ansible check on 1 server ${s(ac.seconds)}`);
  return { lab, readied: { flight: fc.seconds, ansible: ac.seconds, servers: max } };
}

/** No-change runs on the first n servers, Flight and Ansible in turn. */
export async function noChangePoint(lab: BenchLab, n: number, runs: number, log: Log): Promise<Measurement> {
  const m: Measurement = { scenario: 'no-change', servers: n, peer: 'ansible', flight: [], peerRuns: [], flightConnections: [], peerConnections: [] };
  for (let r = 1; r <= runs; r++) {
    const f = await runFlightPlay(lab, n, FLIGHT_PLAYBOOK, 'no-change');
    const a = await runAnsible(lab, n, ANSIBLE_PLAYBOOK, 'no-change');
    push(m, f, a);
    log(`no-change ${n} servers, run ${r}/${runs}: flight ${s(f.seconds)} (${f.logins} logins, recap says ${f.reported}; CPU ${cpu(f)}), ansible ${s(a.seconds)} (${a.logins} logins, ${a.sockets} control sockets; CPU ${cpu(a)})`);
  }
  return m;
}

/** Flight's no-change curve. Sizes inside each round, rounds outside: a slow minute bends no single point. */
export async function fanOutCurve(lab: BenchLab, sizes: number[], rounds: number, log: Log): Promise<Measurement[]> {
  const fanOut = sizes.map((n): Measurement => ({ scenario: 'fan-out', servers: n, flight: [], flightConnections: [] }));
  for (let r = 1; r <= rounds; r++) {
    const line: string[] = [];
    for (const m of fanOut) {
      const f = await runFlightPlay(lab, m.servers, FLIGHT_PLAYBOOK, 'no-change');
      m.flight.push(f.seconds);
      m.flightConnections!.push(f.logins);
      (m.flightCpu ??= []).push(cpuOf(f));
      line.push(`${m.servers}:${f.seconds.toFixed(2)}`);
    }
    log(`fan-out round ${r}/${rounds} (servers:seconds): ${line.join(' ')}`);
  }
  return fanOut;
}

const cpuOf = (r: RunOutcome) => Math.round(((r.clientCpu ?? 0) + (r.serverCpu ?? 0)) * 100) / 100;

function push(m: Measurement, f: RunOutcome, p: RunOutcome): void {
  m.flight.push(f.seconds);
  m.peerRuns!.push(p.seconds);
  m.flightConnections!.push(f.logins);
  m.peerConnections!.push(p.logins);
  (m.flightCpu ??= []).push(cpuOf(f));
  (m.peerCpu ??= []).push(cpuOf(p));
}

/** First apply on fresh servers: every run gets servers just made from the bench image. */
export async function changeRun(o: { servers: number; runs: number; log: Log; keep: boolean }): Promise<Measurement> {
  const image = await ensureImage(o.log);
  const lab = new BenchLab(LABS.change(o.servers), o.log);
  const m: Measurement = { scenario: 'change', servers: o.servers, peer: 'ansible', flight: [], peerRuns: [], flightConnections: [], peerConnections: [] };
  try {
    for (let r = 1; r <= o.runs; r++) {
      await lab.up({ fresh: true, seed: image });
      const f = await runFlightPlay(lab, o.servers, FLIGHT_PLAYBOOK, 'change');
      await lab.up({ fresh: true, seed: image });
      const a = await runAnsible(lab, o.servers, ANSIBLE_PLAYBOOK, 'change');
      push(m, f, a);
      o.log(`change ${o.servers} fresh servers, run ${r}/${o.runs}: flight ${s(f.seconds)} (${f.logins} logins; CPU ${cpu(f)}), ansible ${s(a.seconds)} (${a.logins} logins; CPU ${cpu(a)})`);
    }
  } finally {
    if (!o.keep) await lab.down(true);
  }
  return m;
}

const APP = 'bench';
const CAP_USER = 'benchcap';
const CAP_HOME = `/home/${CAP_USER}`;
const FLOOR_HOME = '/home/benchfloor';
const SHARED = ['storage/app/public', 'storage/framework/cache', 'storage/framework/sessions', 'storage/logs', '.env'];

function appDefinition(repo: string): string {
  return [
    '# Written by the benchmark: the fixture app, released by Flight to the release lab.',
    `repo: ${repo}`,
    'cluster: lab',
    'php: "8.2"',
    'domain: bench.flight.test',
    '# The same steps Capistrano runs (bench/capistrano): no deploy commands, queues or health check.',
    'release_commands:',
    '  - artisan config:cache',
    '  - artisan route:cache',
    'shared:',
    ...SHARED.map((p) => `  - ${p}`),
    'keep_releases: 5',
    'servers:',
    '  - name: lab-1',
    '  - name: lab-2',
    '  - name: lab-3',
    '',
  ].join('\n');
}

/**
 * Provisioning (nginx, PHP, composer, ...) takes minutes, so each server's provisioned layer is
 * cached per lab base; a later bench run restores it in seconds.
 */
async function provisioned(lab: BenchLab, log: Log): Promise<void> {
  const names = ['lab-1', 'lab-2', 'lab-3'];
  const need = ['/usr/bin/php8.2', '/usr/bin/composer'];
  const key = crypto.createHash('sha256').update(JSON.stringify({ v: 1, base: currentBase(labPaths().cache).hash })).digest('hex').slice(0, 12);
  const cached = (name: string) => path.join(BENCH_CACHE, `release-${key}-${name}.tar`);
  await lab.up();
  if (await haveAll(lab, names, need)) return;
  if (names.every((n) => fs.existsSync(cached(n)))) {
    log('release lab: restoring the provisioned servers from the cache');
    await lab.up({ fresh: true, seed: cached });
    if (await haveAll(lab, names, need)) return;
  }
  log('release lab: provisioning 3 servers with `flight provision lab` (once per lab base; minutes)');
  await lab.up({ fresh: true });
  const t = await timedOk(['node', flightCli(), 'provision', 'lab', '--defs', lab.defs, '--json'], { timeoutMs: 30 * 60_000 });
  log(`release lab: provisioned in ${s(t.seconds)}; caching the servers' layers`);
  await lab.down(false);
  for (const n of names) await snapshotUpper(lab, n, cached(n));
  await lab.up();
}

export interface ReleaseResult {
  capistrano: Measurement;
  floor: Measurement;
  floorApp: Measurement;
}

/** Release of the fixture app to 3 servers: Flight, Capistrano and the floor script in turn. */
export async function releaseRun(o: { runs: number; log: Log; keep: boolean }): Promise<ReleaseResult> {
  const lab = new BenchLab(LABS.release, o.log);
  fs.mkdirSync(lab.defs, { recursive: true });
  await provisioned(lab, o.log);
  try {
    const repo = path.join(lab.dir, 'repo');
    const sha = (await timedOk(['bash', path.join(ROOT, 'scripts', 'demo-repo')], { env: { ...process.env, FLIGHT_DEMO_REPO: repo } })).stdout.trim();
    fs.mkdirSync(path.join(lab.defs, 'apps'), { recursive: true });
    fs.writeFileSync(path.join(lab.defs, 'apps', `${APP}.yml`), appDefinition(repo));

    // Capistrano logs in as the app's own user, which owns the app's folder; the floor as root.
    const pub = fs.readFileSync(lab.paths.publicKey, 'utf8').trim();
    const setup = [
      `id ${CAP_USER} >/dev/null 2>&1 || useradd --system --create-home --home-dir ${CAP_HOME} --shell /bin/bash ${CAP_USER}`,
      `install -d -o ${CAP_USER} -g ${CAP_USER} -m 0700 ${CAP_HOME}/.ssh`,
      `printf '%s\\n' '${pub}' > ${CAP_HOME}/.ssh/authorized_keys`,
      `chown ${CAP_USER}:${CAP_USER} ${CAP_HOME}/.ssh/authorized_keys && chmod 0600 ${CAP_HOME}/.ssh/authorized_keys`,
      `install -d -o ${CAP_USER} -g ${CAP_USER} ${CAP_HOME}/shared`,
      `test -e ${CAP_HOME}/shared/.env || install -o ${CAP_USER} -g ${CAP_USER} -m 0640 /dev/null ${CAP_HOME}/shared/.env`,
      `mkdir -p ${FLOOR_HOME}/releases`,
    ].join(' && ');
    await Promise.all(lab.servers.map((srv) => lab.ssh(srv.name, setup)));

    const capEnv = {
      ...process.env,
      BENCH_SERVERS: lab.servers.map((srv) => `${srv.address}:${srv.port}`).join(','),
      BENCH_USER: CAP_USER,
      BENCH_KEY: lab.paths.key,
      BENCH_KNOWN_HOSTS: lab.paths.knownHosts,
      BENCH_REPO: repo,
      BENCH_SHA: sha,
      BENCH_DEPLOY_TO: CAP_HOME,
      BENCH_CAP_LOG: path.join(lab.dir, 'capistrano.log'),
    };
    const capDir = path.join(ROOT, 'bench', 'capistrano');
    const cap = async (): Promise<RunOutcome> => {
      const before = lab.logins();
      const cpu0 = lab.serverCpu();
      const r = await timed(['cap', 'bench', 'deploy'], { cwd: capDir, env: capEnv, timeoutMs: 10 * 60_000, cpu: true });
      if (r.code !== 0) throw new Error(`cap bench deploy exited ${r.code}:\n${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-30).join('\n')}`);
      return { seconds: r.seconds, logins: lab.logins() - before, changed: 1, clientCpu: r.cpuSeconds, serverCpu: await serverCpuSince(lab, 3, cpu0) };
    };
    const floor = async (appSteps = false): Promise<RunOutcome> => {
      const before = lab.logins();
      const cpu0 = lab.serverCpu();
      const r = await timedOk([
        'bash', path.join(ROOT, 'bench', 'floor.sh'), repo, sha, FLOOR_HOME, lab.paths.key, lab.paths.knownHosts,
        ...lab.servers.map((srv) => `${srv.address}:${srv.port}`),
      ], { timeoutMs: 5 * 60_000, cpu: true, env: { ...process.env, FLOOR_APP_STEPS: appSteps ? '1' : '' } });
      return { seconds: r.seconds, logins: lab.logins() - before, changed: 1, clientCpu: r.cpuSeconds, serverCpu: await serverCpuSince(lab, 3, cpu0) };
    };
    const flight = () => runFlightRelease(lab, APP, sha);

    // One untimed release each: the first creates users and folders, which later ones only check.
    o.log('release lab: one warm-up release with each tool');
    await flight();
    await cap();
    await floor();
    await floor(true);

    const measurement = (peer: Peer): Measurement => ({ scenario: 'release', servers: 3, peer, flight: [], peerRuns: [], flightConnections: [], peerConnections: [] });
    const capM = measurement('capistrano');
    const floorM = measurement('floor');
    const floorAppM = measurement('floor_app');
    for (let r = 1; r <= o.runs; r++) {
      const f = await flight();
      const c = await cap();
      const fl = await floor();
      const fa = await floor(true);
      push(capM, f, c);
      push(floorM, f, fl);
      push(floorAppM, f, fa);
      o.log(`release 3 servers, run ${r}/${o.runs}: flight ${s(f.seconds)} (${f.logins} logins; CPU ${cpu(f)}), capistrano ${s(c.seconds)} (${c.logins} logins; CPU ${cpu(c)}), floor ${s(fl.seconds)} (${fl.logins} logins; CPU ${cpu(fl)}), floor with the app's steps ${s(fa.seconds)} (CPU ${cpu(fa)})`);
    }
    return { capistrano: capM, floor: floorM, floorApp: floorAppM };
  } finally {
    if (!o.keep) await lab.down(true);
  }
}
