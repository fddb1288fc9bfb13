/**
 * OPcache after a release, measured in a lab of its own under a steady load:
 *
 *   npm run bench:opcache [-- --repeats 3 --rate 10 --first 127.0.0.60 --keep --out FILE]
 *
 * --keep leaves the lab running (provisioning it is most of a first run's time); --lab DIR runs
 * on such a kept lab (its state dir) again, and leaves it running.
 *
 * 1. Latency and errors in the 10 seconds after the switch, for release_strategy `releases` and
 *    `alternate`, each without and with the OPcache warm-up (p50/p99/max of the requests that
 *    started in those 10 s; the steady state before the release for comparison), under a steady
 *    load: --rate requests per second, sent on schedule whether or not earlier ones have
 *    answered (as visitors do), well under what the server can serve, so that latency shows
 *    the cost of a cold cache rather than a queue. Repeated, the median of the repeats shown.
 * 2. OPcache memory after 10 releases under each strategy, from a freshly reloaded PHP-FPM.
 * 3. The cost of opcache.validate_timestamps per request: the page's boot time (from the first
 *    line of public/index.php to the controller: Laravel's boot, routing and middleware, mostly
 *    loading its files from the cache), measured inside PHP, and the throughput of --loops
 *    clients sending requests back to back, with it on and off.
 *
 * The app is the Laravel example app (examples/laravel): a per-release vendor/ with Laravel 8
 * and its dependencies installed by composer, its four caches built by the release. Everything runs in a
 * lab at --first (one web server, provisioned here; torn down at the end unless --keep), never
 * on the default lab, whose PHP-FPM other test runs share and reload. Traffic stays on
 * 127.0.0.0/8. The machine's other load shows in the numbers: run it on a quiet machine.
 */
import fs from 'node:fs';
import path from 'node:path';
import minimist from 'minimist';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { describeRun, flight, hostResults, type FlightRun } from '../lab-kit/cli.js';
import { labServers, makeDefs, makeLab } from '../lab-kit/defs.js';
import { httpGet, parsePage } from '../lab-kit/http.js';
import { now, percentile, startLoad, isError, type LoadSample } from '../lab-kit/load.js';
import { makeLaravelRepo } from '../lab-kit/repos.js';
import { sshRun, type LabServer } from '../lab-kit/ssh.js';
import http from 'node:http';

const args = minimist(process.argv.slice(2), {
  string: ['first', 'out', 'repeats', 'loops', 'seconds', 'lab', 'rate'],
  boolean: ['keep', 'help'],
  default: { first: '127.0.0.60', repeats: '3', loops: '4', seconds: '10', rate: '10' },
});
if (args.help) {
  process.stdout.write('npm run bench:opcache [-- --repeats N --rate R --loops N --seconds S --first 127.0.0.60 --keep | --lab STATE_DIR --out FILE]\n');
  process.exit(0);
}
const REPEATS = Number(args.repeats);
const RATE = Number(args.rate);
const LOOPS = Number(args.loops);
const WINDOW_MS = Number(args.seconds) * 1000;
const FIRST = String(args.first);
if (!FIRST.startsWith('127.')) throw new Error('the bench lab stays on 127.0.0.0/8');

const APP = 'opcb';
const DOMAIN = 'opcb.flight.test';
const log = (line: string) => process.stderr.write(`# ${new Date().toISOString().slice(11, 19)} ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Measurements

interface Stats {
  requests: number;
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

function stats(samples: LoadSample[]): Stats {
  const ms = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  return { requests: samples.length, errors: samples.filter(isError).length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.at(-1) ?? NaN };
}

const median = (xs: number[]): number => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * An open-loop load: one request every 1000/rate ms on keep-alive connections, sent on time
 * even while earlier ones are still waiting, so a slow moment shows as latency (and as more
 * requests in flight), not as fewer requests. Samples in the load generator's shape.
 */
function pacedLoad(address: string, host: string, rate: number, maxMs: number): { samples: LoadSample[]; stop(): Promise<LoadSample[]> } {
  if (!address.startsWith('127.')) throw new Error(`refusing to send load to ${address}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const samples: LoadSample[] = [];
  const pending = new Set<Promise<void>>();
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const start = now();
      const done = (status: number, body: string, error?: string) => {
        const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(body)?.[1]?.trim();
        samples.push({ target: address, start, end: now(), status, delayed: false, sha: field('sha'), marker: field('marker'), ...(error ? { error } : {}) });
        resolve();
      };
      const req = http.request({ host: address, port: 80, path: '/', headers: { Host: host }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (e) => done(res.statusCode ?? 0, '', e.message));
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', (e) => done(0, '', e.message));
      req.end();
    });
  const t0 = now();
  let sent = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    if (now() - t0 > maxMs) return void (stopped = true);
    // Catch up on schedule after a timer ran late, so the rate holds.
    while (sent < ((now() - t0) * rate) / 1000) {
      sent++;
      const p = one();
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
    setTimeout(tick, Math.max(1, 1000 / rate / 2));
  };
  tick();
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all([...pending]);
      agent.destroy();
      return samples;
    },
  };
}

interface SwitchRun {
  baseline: Stats;
  after: Stats;
  /** The first second after the switch, where a cold cache shows. */
  firstSecond: Stats;
  warmup?: string;
}

interface Context {
  server: LabServer;
  defs: string;
  appFile: string;
  commit: (label: string) => string;
}

function writeApp(ctx: Context, strategy: 'releases' | 'alternate', warmup: boolean): void {
  fs.writeFileSync(
    ctx.appFile,
    [
      `repo: ${JSON.stringify(repoDir)}`,
      'cluster: lab',
      'php: "8.2"',
      `domain: ${DOMAIN}`,
      'release_commands: [artisan config:cache, artisan route:cache, artisan event:cache, artisan view:cache]',
      'shared: [storage/framework/cache, storage/framework/sessions, storage/logs, .env]',
      `release_strategy: ${strategy}`,
      // The time limit up to the pool's own (request_duration 30 s): a busy machine compiles slowly.
      `opcache_warmup: ${warmup ? '{ timeout: 30 }' : 'false'}`,
      'servers:',
      '  - name: lab-1',
      '',
    ].join('\n'),
  );
}

let repoDir = '';

async function release(ctx: Context, label: string, onSwitch?: (t: number) => void): Promise<FlightRun> {
  const sha = ctx.commit(label);
  // --force-unlock: the lab is the bench's own, and a bench stopped mid-release leaves its lock.
  const run = await flight(['app:release', APP, sha, '--defs', ctx.defs, '--force-unlock'], {
    onEvent: (e) => {
      if (e.event === 'host_result' && e.task === 'Switch to the new release' && e.status === 'changed') onSwitch?.(now());
    },
  });
  if (run.code !== 0) throw new Error(`release failed:\n${describeRun(run)}`);
  return run;
}

const target = (ctx: Context) => [{ name: 'lab-1', address: ctx.server.address, host: DOMAIN }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One release under load: the requests before it, and those in the window after the switch. */
async function measureSwitch(ctx: Context, label: string): Promise<SwitchRun> {
  const load = pacedLoad(ctx.server.address, DOMAIN, RATE, 5 * 60_000);
  await sleep(5000);
  const releaseStart = now();
  let switched = NaN;
  const run = await release(ctx, label, (t) => (switched = t));
  if (!Number.isFinite(switched)) throw new Error('no switch seen');
  const wait = switched + WINDOW_MS + 500 - now();
  if (wait > 0) await sleep(wait);
  const samples = await load.stop();
  const warm = hostResults(run, { task: 'Warm up OPcache with the new release' }).find((e) => e.status !== 'skipped');
  const startedIn = (from: number, to: number) => samples.filter((s) => s.start >= from && s.start < to);
  return {
    baseline: stats(samples.filter((s) => s.end < releaseStart && s.start > releaseStart - 4000)),
    after: stats(startedIn(switched, switched + WINDOW_MS)),
    firstSecond: stats(startedIn(switched, switched + 1000)),
    warmup: warm?.msg,
  };
}

interface PoolNumbers {
  groups: Record<string, { scripts: number; bytes: number }>;
  used: number;
  wasted: number;
  free: number;
}

async function poolNumbers(ctx: Context): Promise<PoolNumbers> {
  const file = path.join(ctx.defs, 'opcb-status.yml');
  fs.writeFileSync(
    file,
    `- hosts: app_${APP}
  become: true
  tasks:
    - name: Read
      fpm_opcache: { action: status, socket: /run/php/${APP}.sock, php: "8.2", dir: /home/${APP}/.flight, group: ${APP}, group_under: /home/${APP}/releases }
      register: st
    - name: Show
      debug:
        msg: "{{ {'groups': st.groups, 'used': st.opcache.memory.used, 'wasted': st.opcache.memory.wasted, 'free': st.opcache.memory.free} | to_json }}"
`,
  );
  const run = await flight([file, '--defs', ctx.defs], { bin: 'flight-play' });
  const shown = hostResults(run, { task: 'Show' })[0];
  if (run.code !== 0 || !shown?.msg) throw new Error(`status read failed:\n${describeRun(run)}`);
  return JSON.parse(shown.msg) as PoolNumbers;
}

async function onHost(ctx: Context, cmd: string): Promise<string> {
  const r = await sshRun(ctx.server, cmd);
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}

async function reloadFpm(ctx: Context): Promise<void> {
  const run = await flight(['opcache-reload', '-e', 'threshold=0', '--defs', ctx.defs], { bin: 'flight-play' });
  if (run.code !== 0) throw new Error(`opcache-reload failed:\n${describeRun(run)}`);
}

/** PHP files a page loads, as the page counts them. */
let pageFiles = NaN;

/** The page's own boot time, measured in PHP (microseconds), over n requests. */
async function bootTimes(ctx: Context, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await httpGet(ctx.server.address, DOMAIN, '/');
    if (res.status !== 200) throw new Error(`page: ${res.status}`);
    const page = parsePage(res.body);
    out.push(Number(page.boot_us));
    pageFiles = Number(page.files);
  }
  return out;
}

/**
 * The app's env: no database or Redis here (the page says so and goes on). Sessions and the cache
 * in memory: the load sends no cookie, so file sessions would pile up one file per request and
 * Laravel's session lottery (2 requests in 100) would scan them all, a latency spike of its own
 * that would hide the one this measures.
 */
function benchEnv(): string {
  return `APP_NAME=${APP}\nAPP_ENV=production\nAPP_DEBUG=false\nAPP_KEY=base64:${randomBytes(32).toString('base64')}\nLOG_CHANNEL=single\nCACHE_DRIVER=array\nSESSION_DRIVER=array\nQUEUE_CONNECTION=sync\nDB_CONNECTION=sqlite\nDB_DATABASE=:memory:\n`;
}

async function throughput(ctx: Context, ms: number): Promise<{ rps: number; p50: number; errors: number }> {
  const load = startLoad({ targets: target(ctx), loopsPerTarget: LOOPS, delayEvery: 0, maxMs: ms });
  const samples = await load.done;
  const s = stats(samples);
  return { rps: samples.length / (ms / 1000), p50: s.p50, errors: s.errors };
}

// ---------------------------------------------------------------------------------------------

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
const mb = (b: number) => (b / 1048576).toFixed(1);

async function main(): Promise<void> {
  const t0 = Date.now();
  log(`lab at ${FIRST} (1 web server), the Laravel example app, ${RATE} requests/s, ${REPEATS} repeats`);
  const repo = makeLaravelRepo();
  repoDir = repo.dir;
  let counter = 0;
  const lab = args.lab
    ? await (async () => {
        const labDir = String(args.lab);
        const defs = await makeDefs({ labDir, first: FIRST, servers: 1 });
        return { labDir, defs, servers: await labServers(labDir), down: async () => (defs.cleanup(), { code: 0 } as FlightRun) };
      })()
    : await makeLab({ first: FIRST, servers: 1 });
  const results: Record<string, unknown> = { app: 'examples/laravel', loops: LOOPS, repeats: REPEATS, window_s: WINDOW_MS / 1000 };
  try {
    for (const f of fs.readdirSync(path.join(lab.defs.dir, 'apps'))) fs.rmSync(path.join(lab.defs.dir, 'apps', f));
    const ctx: Context = { server: lab.servers[0]!, defs: lab.defs.dir, appFile: lab.defs.appFile(APP), commit: (label) => repo.commit(`${label}-${++counter}`) };
    log('provision');
    const prov = await flight(['provision', 'lab', '--defs', ctx.defs], { timeoutMs: 30 * 60_000 });
    if (prov.code !== 0) throw new Error(describeRun(prov));
    writeApp(ctx, 'releases', false);
    const conf = await flight(['app:configure', APP, '--defs', ctx.defs]);
    if (conf.code !== 0) throw new Error(describeRun(conf));
    const envFile = path.join(os.tmpdir(), `flight-bench-${process.pid}.env`);
    fs.writeFileSync(envFile, benchEnv(), { mode: 0o600 });
    const push = await flight(['env:push', APP, envFile, '--defs', ctx.defs]);
    fs.rmSync(envFile, { force: true });
    if (push.code !== 0) throw new Error(describeRun(push));
    const ini = await onHost(ctx, 'grep -h "^opcache\\." /etc/php/8.2/fpm/conf.d/90-flight.ini');
    results.opcache_ini = ini.trim().split('\n');

    // 1. The 10 seconds after a switch.
    // The cases take turns, round after round, so that each round's four measurements see the
    // machine in about the same state (other work on it comes and goes). Each round starts from
    // a fresh cache (one that earlier rounds filled up would restart, or stop caching, in the
    // middle of a measurement), and primes what each case finds in production: `releases` a
    // serving release whose files are hot; `alternate` both directories cached by traffic.
    const cases = [
      { strategy: 'releases', warmup: false, primes: 1 },
      { strategy: 'releases', warmup: true, primes: 0 },
      { strategy: 'alternate', warmup: false, primes: 2 },
      { strategy: 'alternate', warmup: true, primes: 0 },
    ] as const;
    const switchRows = cases.map((c) => ({ strategy: c.strategy, warmup: c.warmup, runs: [] as SwitchRun[] }));
    for (let r = 0; r < REPEATS; r++) {
      await reloadFpm(ctx);
      for (const [i, c] of cases.entries()) {
        writeApp(ctx, c.strategy, c.warmup);
        for (let p = 0; p < c.primes; p++) {
          await release(ctx, `${c.strategy}-prime`);
          await bootTimes(ctx, 3);
        }
        log(`switch: ${c.strategy}, warm-up ${c.warmup ? 'on' : 'off'}, round ${r + 1}/${REPEATS}`);
        const last = await measureSwitch(ctx, `${c.strategy}-${c.warmup ? 'warm' : 'cold'}`);
        switchRows[i]!.runs.push(last);
        log(`  before: p50 ${f1(last.baseline.p50)} p99 ${f1(last.baseline.p99)}; after: p50 ${f1(last.after.p50)} p99 ${f1(last.after.p99)} max ${f1(last.after.max)} errors ${last.after.errors}${last.warmup ? `; ${last.warmup}` : ''}`);
      }
    }
    results.switch = switchRows;

    // 2. OPcache memory after 10 releases, from a fresh cache, traffic on every release.
    const memRows: Array<{ strategy: string; scripts: number; appBytes: number; used: number; wasted: number; dirs: number }> = [];
    for (const strategy of ['releases', 'alternate'] as const) {
      writeApp(ctx, strategy, true);
      await release(ctx, `${strategy}-mem-prime`);
      await reloadFpm(ctx);
      await bootTimes(ctx, 3);
      const start = await poolNumbers(ctx);
      const load = pacedLoad(ctx.server.address, DOMAIN, 2, 15 * 60_000);
      for (let i = 0; i < 10; i++) {
        log(`memory: ${strategy}, release ${i + 1}/10`);
        await release(ctx, `${strategy}-mem`);
        await sleep(1000);
      }
      await load.stop();
      const end = await poolNumbers(ctx);
      const groups = Object.values(end.groups);
      memRows.push({
        strategy,
        scripts: groups.reduce((a, g) => a + g.scripts, 0),
        appBytes: groups.reduce((a, g) => a + g.bytes, 0),
        used: end.used + end.wasted - (start.used + start.wasted),
        wasted: end.wasted - start.wasted,
        dirs: Object.keys(end.groups).length,
      });
      log(`  ${JSON.stringify(memRows.at(-1))}`);
    }
    results.memory = memRows;

    // 3. validate_timestamps on and off, alternately, twice each.
    const vt: Record<'on' | 'off', { boot: number[]; rps: number[]; p50: number[] }> = { on: { boot: [], rps: [], p50: [] }, off: { boot: [], rps: [], p50: [] } };
    const ini90 = '/etc/php/8.2/fpm/conf.d/90-flight.ini';
    try {
      for (const mode of ['on', 'off', 'on', 'off'] as const) {
        log(`validate_timestamps ${mode}`);
        await onHost(ctx, `sed -i 's/^opcache.validate_timestamps = .*/opcache.validate_timestamps = ${mode === 'on' ? 1 : 0}/' ${ini90} && service php8.2-fpm reload >/dev/null`);
        await sleep(1500);
        await bootTimes(ctx, 20);
        vt[mode].boot.push(...(await bootTimes(ctx, 200)));
        const t = await throughput(ctx, 8000);
        vt[mode].rps.push(t.rps);
        vt[mode].p50.push(t.p50);
      }
    } finally {
      // Back to Flight's setting, whatever happened.
      await onHost(ctx, `sed -i 's/^opcache.validate_timestamps = .*/opcache.validate_timestamps = 1/' ${ini90} && service php8.2-fpm reload >/dev/null`);
    }
    results.validate_timestamps = vt;

    // The tables.
    const lines: string[] = [];
    lines.push(`OPcache after a switch: the Laravel example app (${f0(pageFiles)} PHP files per page), a steady ${RATE} requests/s, requests that started in the ${WINDOW_MS / 1000} s after the switch (median of ${REPEATS} rounds; steady state before the release in parentheses)`);
    lines.push('');
    lines.push('| strategy | warm-up | p50 ms | p99 ms | max ms | p99 ms, 1st second | errors | requests |');
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of switchRows) {
      const m = (pick: (r: SwitchRun) => number) => median(row.runs.map(pick));
      const errors = row.runs.reduce((a, r) => a + r.after.errors, 0);
      const requests = row.runs.reduce((a, r) => a + r.after.requests, 0);
      lines.push(
        `| ${row.strategy} | ${row.warmup ? 'on' : 'off'} | ${f1(m((r) => r.after.p50))} (${f1(m((r) => r.baseline.p50))}) | ${f1(m((r) => r.after.p99))} (${f1(m((r) => r.baseline.p99))}) | ${f1(m((r) => r.after.max))} | ${f1(m((r) => r.firstSecond.p99))} | ${errors} | ${requests} |`,
      );
    }
    const warmMsgs = switchRows.filter((r) => r.warmup).map((r) => `- ${r.strategy}: ${r.runs.at(-1)?.warmup ?? '-'}`);
    lines.push('', 'Warm-up (last release of each strategy):', ...warmMsgs);
    lines.push('', `OPcache memory after 10 releases (fresh PHP-FPM, warm-up on, traffic throughout; keep_releases 5):`, '');
    lines.push('| strategy | release dirs in the cache | app scripts cached | app scripts MB | OPcache used + wasted, MB | of which wasted, MB |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
    for (const r of memRows) lines.push(`| ${r.strategy} | ${r.dirs} | ${r.scripts} | ${mb(r.appBytes)} | ${mb(r.used)} | ${mb(r.wasted)} |`);
    const inc = (m: 'on' | 'off') => median(vt[m].boot);
    lines.push('', `opcache.validate_timestamps (revalidate_freq 0), ${f0(pageFiles)} files per page:`, '');
    lines.push('| validate_timestamps | boot to controller, µs (median, in PHP) | requests/s | p50 ms |');
    lines.push('| --- | ---: | ---: | ---: |');
    for (const m of ['on', 'off'] as const) lines.push(`| ${m} | ${f0(inc(m))} | ${f0(median(vt[m].rps))} | ${f1(median(vt[m].p50))} |`);
    lines.push('', `(requests/s and p50: ${LOOPS} clients sending requests back to back for 8 s, twice each way.)`);
    lines.push('', `Cost of validate_timestamps: ${f0(inc('on') - inc('off'))} µs per request (${f1(((inc('on') - inc('off')) / pageFiles) * 1000)} ns per file).`);
    lines.push('', `Measured in ${((Date.now() - t0) / 60_000).toFixed(1)} min; machine load average at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}.`);
    const table = lines.join('\n');
    process.stdout.write(`${table}\n`);
    if (args.out) fs.writeFileSync(String(args.out), JSON.stringify({ ...results, table }, null, 2));
  } finally {
    repo.cleanup();
    if (args.keep || args.lab) log(`lab kept: flight lab down --dir ${lab.labDir} --purge (definitions: ${lab.defs.dir})`);
    else {
      const down = await lab.down();
      if (down.code !== 0) log(`lab down failed: ${describeRun(down)}`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
