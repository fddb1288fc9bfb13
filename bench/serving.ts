/**
 * Pages while a release prepares, measured in a lab of its own under a steady load:
 *
 *   npm run bench:serving [-- --servers 3 --rate 10 --releases 3 --rounds 2 --quiet 20 --first 127.0.0.70 --keep | --lab STATE_DIR --out FILE]
 *
 * The Laravel example app (examples/laravel: per-release vendor/ by composer, its four cache
 * commands) on --servers lab servers (all but the last are web servers, as in every lab), the
 * web servers each serving a steady share of --rate requests per second in all, sent on schedule whether or not earlier ones have answered
 * (as visitors do). Page latency is measured with no release running (--quiet seconds), and
 * during --releases back-to-back releases with `release_nice: 0` (the release's composer and
 * artisan at the priority of nginx and PHP-FPM) and with `release_nice: 10` (the default: below
 * them, and at the lowest best-effort IO priority). The cases take turns, round after round
 * (--rounds), so each round sees the machine in about the same state; the table gives the median
 * of the rounds. The target (issue 19): p99 during releases within 1.5x of p99 without them.
 *
 * Everything runs on this machine: the tool, the servers and the load share its cores, which is
 * the contention being measured (on real servers the release competes with PHP-FPM the same
 * way, on fewer requests per core). Traffic stays on 127.0.0.0/8.
 */
import fs from 'node:fs';
import minimist from 'minimist';
import { now, pacedLoad, stats, type LatencyStats, type LoadSample } from '../lab-kit/load.js';
import { laravelLab, type LaravelLab } from './lib/laravel-lab.js';
import { median } from './lib/stats.js';

const args = minimist(process.argv.slice(2), {
  string: ['first', 'out', 'servers', 'rate', 'releases', 'rounds', 'quiet', 'lab'],
  boolean: ['keep', 'help'],
  default: { first: '127.0.0.70', servers: '3', rate: '10', releases: '3', rounds: '2', quiet: '20' },
});
if (args.help) {
  process.stdout.write('npm run bench:serving [-- --servers N --rate R --releases N --rounds N --quiet S --first 127.0.0.70 --keep | --lab STATE_DIR --out FILE]\n');
  process.exit(0);
}
const SERVERS = Number(args.servers);
const RATE = Number(args.rate);
const RELEASES = Number(args.releases);
const ROUNDS = Number(args.rounds);
const QUIET_MS = Number(args.quiet) * 1000;
const APP = 'srvb';
const DOMAIN = 'srvb.flight.test';
const log = (line: string) => process.stderr.write(`# ${new Date().toISOString().slice(11, 19)} ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Case = 'no release' | 'release_nice 0' | 'release_nice 10';
const CASES: Case[] = ['no release', 'release_nice 0', 'release_nice 10'];

/** Requests that started inside [from, to). */
const startedIn = (samples: LoadSample[], from: number, to: number) => samples.filter((s) => s.start >= from && s.start < to);

/** What a case measured: every request, and (with releases) those while the releases prepared. */
interface Measured {
  all: LatencyStats;
  /** Requests that started outside the AFTER_SWITCH_MS after each switch: the prepare phases. */
  preparing: LatencyStats;
  /** Requests that started within AFTER_SWITCH_MS after a switch, where a cold OPcache shows. */
  afterSwitch: LatencyStats;
  seconds: number;
}

/** How long after a switch a request counts as meeting the new release's cold cache. */
const AFTER_SWITCH_MS = 2000;

/** One measurement: the quiet case, or back-to-back releases at a niceness. */
async function measure(lab: LaravelLab, c: Case): Promise<Measured> {
  if (c !== 'no release') lab.writeApp([`release_nice: ${c === 'release_nice 0' ? 0 : 10}`]);
  // Every case from an empty OPcache, filled by the first seconds of load before anything is
  // measured: releases fill it (keep_releases bounds the disk, not the cache), and a full one
  // restarts or stops caching in the middle of a measurement.
  await lab.freshOpcache();
  const load = pacedLoad(lab.targets, RATE, 30 * 60_000);
  await sleep(5000);
  const from = now();
  const switches: number[] = [];
  if (c === 'no release') await sleep(QUIET_MS);
  else {
    for (let i = 0; i < RELEASES; i++) await lab.release(c.replace(' ', '-'), (t) => switches.push(t));
  }
  const to = now();
  const samples = startedIn(await load.stop(), from, to);
  const nearSwitch = (s: LoadSample) => switches.some((t) => s.start >= t && s.start < t + AFTER_SWITCH_MS);
  return {
    all: stats(samples),
    preparing: stats(samples.filter((s) => !nearSwitch(s))),
    afterSwitch: stats(samples.filter(nearSwitch)),
    seconds: (to - from) / 1000,
  };
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

async function main(): Promise<void> {
  const t0 = Date.now();
  log(`lab at ${args.first} (${SERVERS} servers), the Laravel example app, ${RATE} requests/s in all, ${RELEASES} releases per case, ${ROUNDS} rounds`);
  const lab = await laravelLab({ first: String(args.first), servers: SERVERS, app: APP, domain: DOMAIN, labDir: args.lab ? String(args.lab) : undefined, keep: args.keep, log });
  try {
    // A release serving, its files compiled by some traffic, before the first measurement.
    await lab.release('prime');
    await measure(lab, 'no release');
    const runs = new Map<Case, Measured[]>(CASES.map((c) => [c, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of CASES) {
        log(`${c}, round ${r + 1}/${ROUNDS}`);
        const m = await measure(lab, c);
        runs.get(c)!.push(m);
        log(`  ${m.all.requests} requests in ${m.seconds.toFixed(0)} s: p50 ${f1(m.all.p50)} p99 ${f1(m.all.p99)} max ${f1(m.all.max)} ms, ${m.all.errors} errors; preparing p99 ${f1(m.preparing.p99)}, after a switch p99 ${f1(m.afterSwitch.p99)}`);
      }
    }
    const med = (c: Case, pick: (m: Measured) => number) => median(runs.get(c)!.map(pick));
    const quietP99 = med('no release', (m) => m.all.p99);
    const row = (name: string, c: Case, part: (m: Measured) => LatencyStats) => {
      const all = runs.get(c)!;
      const p99 = med(c, (m) => part(m).p99);
      return `| ${name} | ${all.reduce((a, m) => a + part(m).requests, 0)} | ${all.reduce((a, m) => a + part(m).errors, 0)} | ${f1(med(c, (m) => part(m).p50))} | ${f1(p99)} | ${f1(med(c, (m) => part(m).max))} | ${(p99 / quietP99).toFixed(2)}x |`;
    };
    const niceP99 = med('release_nice 10', (m) => m.preparing.p99);
    const lines = [
      `Pages while releases prepare: the Laravel example app on ${SERVERS} servers (${lab.targets.length} web servers), ${RATE} requests/s in all, open loop; ${RELEASES} back-to-back releases per case (median of ${ROUNDS} rounds). "after a switch": requests that started within ${AFTER_SWITCH_MS / 1000} s after a switch (the new release's cold OPcache; opcache_warmup is off here); "preparing": the others.`,
      '',
      '| requests | count | errors | p50 ms | p99 ms | max ms | p99 vs no release |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('no release', 'no release', (m) => m.all),
      ...(['release_nice 0', 'release_nice 10'] as const).flatMap((c) => [
        row(`${c}: all`, c, (m) => m.all),
        row(`${c}: preparing`, c, (m) => m.preparing),
        row(`${c}: after a switch`, c, (m) => m.afterSwitch),
      ]),
      '',
      `Target: p99 while releases prepare (release_nice 10, the default) within 1.5x of p99 without them: ${(niceP99 / quietP99).toFixed(2)}x, ${niceP99 / quietP99 <= 1.5 ? 'met' : '**not met**'}.`,
      `A release took ${f1(median(runs.get('release_nice 0')!.map((m) => m.seconds / RELEASES)))} s at release_nice 0 and ${f1(median(runs.get('release_nice 10')!.map((m) => m.seconds / RELEASES)))} s at 10 (median).`,
      '',
      `Measured in ${((Date.now() - t0) / 60_000).toFixed(1)} min; machine load average at the end: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}.`,
    ];
    const table = lines.join('\n');
    process.stdout.write(`${table}\n`);
    if (args.out) fs.writeFileSync(String(args.out), JSON.stringify({ runs: Object.fromEntries(runs), table }, null, 2));
  } finally {
    await lab.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
