/**
 * Pages while a release prepares, measured in a lab of its own under a steady load:
 *
 *   npm run bench:serving [-- --servers 3 --rate 10 --releases 3 --rounds 2 --quiet 20 --first 127.0.0.70 --keep | --lab STATE_DIR --out FILE]
 *
 * The Laravel example app (examples/laravel: per-release vendor/ by composer, its four cache
 * commands) on --servers lab servers, every one a web server, each serving a steady share of
 * --rate requests per second in all, sent on schedule whether or not earlier ones have answered
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

/** One measurement: the quiet case, or back-to-back releases at a niceness. */
async function measure(lab: LaravelLab, c: Case): Promise<{ stats: LatencyStats; seconds: number }> {
  const load = pacedLoad(lab.targets, RATE, 30 * 60_000);
  // Connections open, and the first requests out of the way, before anything is measured.
  await sleep(3000);
  const from = now();
  if (c === 'no release') await sleep(QUIET_MS);
  else {
    lab.writeApp([`release_nice: ${c === 'release_nice 0' ? 0 : 10}`]);
    for (let i = 0; i < RELEASES; i++) await lab.release(c.replace(' ', '-'));
  }
  const to = now();
  const samples = await load.stop();
  return { stats: stats(startedIn(samples, from, to)), seconds: (to - from) / 1000 };
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');

async function main(): Promise<void> {
  const t0 = Date.now();
  log(`lab at ${args.first} (${SERVERS} web servers), the Laravel example app, ${RATE} requests/s in all, ${RELEASES} releases per case, ${ROUNDS} rounds`);
  const lab = await laravelLab({ first: String(args.first), servers: SERVERS, app: APP, domain: DOMAIN, labDir: args.lab ? String(args.lab) : undefined, keep: args.keep, log });
  try {
    // A release serving, its files compiled by some traffic, before the first measurement.
    await lab.release('prime');
    await measure(lab, 'no release');
    const runs = new Map<Case, Array<{ stats: LatencyStats; seconds: number }>>(CASES.map((c) => [c, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of CASES) {
        log(`${c}, round ${r + 1}/${ROUNDS}`);
        const m = await measure(lab, c);
        runs.get(c)!.push(m);
        log(`  ${m.stats.requests} requests in ${m.seconds.toFixed(0)} s: p50 ${f1(m.stats.p50)} p99 ${f1(m.stats.p99)} max ${f1(m.stats.max)} ms, ${m.stats.errors} errors`);
      }
    }
    const med = (c: Case, pick: (s: LatencyStats) => number) => median(runs.get(c)!.map((m) => pick(m.stats)));
    const quietP99 = med('no release', (s) => s.p99);
    const lines = [
      `Pages while releases prepare: the Laravel example app on ${SERVERS} web servers, ${RATE} requests/s in all, open loop; ${RELEASES} back-to-back releases per case (median of ${ROUNDS} rounds)`,
      '',
      '| case | requests | errors | p50 ms | p99 ms | max ms | p99 vs no release |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...CASES.map((c) => {
        const all = runs.get(c)!;
        return `| ${c} | ${all.reduce((a, m) => a + m.stats.requests, 0)} | ${all.reduce((a, m) => a + m.stats.errors, 0)} | ${f1(med(c, (s) => s.p50))} | ${f1(med(c, (s) => s.p99))} | ${f1(med(c, (s) => s.max))} | ${(med(c, (s) => s.p99) / quietP99).toFixed(2)}x |`;
      }),
      '',
      `Target: p99 during releases (release_nice 10, the default) within 1.5x of p99 without them: ${(med('release_nice 10', (s) => s.p99) / quietP99).toFixed(2)}x, ${med('release_nice 10', (s) => s.p99) / quietP99 <= 1.5 ? 'met' : '**not met**'}.`,
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
