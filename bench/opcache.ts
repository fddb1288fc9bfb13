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
import { describeRun, flight, hostResults } from '../lab-kit/cli.js';
import { httpGet, parsePage } from '../lab-kit/http.js';
import { now, pacedLoad, startLoad, stats, type LatencyStats } from '../lab-kit/load.js';
import { sshRun } from '../lab-kit/ssh.js';
import { laravelLab, type LaravelLab } from './lib/laravel-lab.js';
import { median } from './lib/stats.js';

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

interface SwitchRun {
  baseline: LatencyStats;
  after: LatencyStats;
  /** The first second after the switch, where a cold cache shows. */
  firstSecond: LatencyStats;
  warmup?: string;
}

/** The app's settings under test: the release strategy, and the OPcache warm-up on or off. */
function appSettings(strategy: 'releases' | 'alternate', warmup: boolean): string[] {
  // The warm-up's time limit up to the pool's own (request_duration 30 s): a busy machine compiles slowly.
  return [`release_strategy: ${strategy}`, `opcache_warmup: ${warmup ? '{ timeout: 30 }' : 'false'}`];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One release under load: the requests before it, and those in the window after the switch. */
async function measureSwitch(ctx: LaravelLab, label: string): Promise<SwitchRun> {
  const load = pacedLoad(ctx.targets, RATE, 5 * 60_000);
  await sleep(5000);
  const releaseStart = now();
  let switched = NaN;
  const run = await ctx.release(label, (t) => (switched = t));
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

async function poolNumbers(ctx: LaravelLab): Promise<PoolNumbers> {
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

async function onHost(ctx: LaravelLab, cmd: string): Promise<string> {
  const r = await sshRun(ctx.servers[0]!, cmd);
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}


/** PHP files a page loads, as the page counts them. */
let pageFiles = NaN;

/** The page's own boot time, measured in PHP (microseconds), over n requests. */
async function bootTimes(ctx: LaravelLab, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await httpGet(ctx.servers[0]!.address, DOMAIN, '/');
    if (res.status !== 200) throw new Error(`page: ${res.status}`);
    const page = parsePage(res.body);
    out.push(Number(page.boot_us));
    pageFiles = Number(page.files);
  }
  return out;
}

async function throughput(ctx: LaravelLab, ms: number): Promise<{ rps: number; p50: number; errors: number }> {
  const load = startLoad({ targets: ctx.targets, loopsPerTarget: LOOPS, delayEvery: 0, maxMs: ms });
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
  const ctx = await laravelLab({ first: FIRST, servers: 1, app: APP, domain: DOMAIN, labDir: args.lab ? String(args.lab) : undefined, keep: args.keep, log });
  const results: Record<string, unknown> = { app: 'examples/laravel', loops: LOOPS, repeats: REPEATS, window_s: WINDOW_MS / 1000 };
  try {
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
      await ctx.freshOpcache();
      for (const [i, c] of cases.entries()) {
        ctx.writeApp(appSettings(c.strategy, c.warmup));
        for (let p = 0; p < c.primes; p++) {
          await ctx.release(`${c.strategy}-prime`);
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
      ctx.writeApp(appSettings(strategy, true));
      await ctx.release(`${strategy}-mem-prime`);
      await ctx.freshOpcache();
      await bootTimes(ctx, 3);
      const start = await poolNumbers(ctx);
      const load = pacedLoad(ctx.targets, 2, 15 * 60_000);
      for (let i = 0; i < 10; i++) {
        log(`memory: ${strategy}, release ${i + 1}/10`);
        await ctx.release(`${strategy}-mem`);
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
    await ctx.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
