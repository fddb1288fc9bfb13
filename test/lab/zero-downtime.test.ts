/**
 * Zero downtime under load, on the default lab: while 20 releases of two alternating commits run
 * back to back, a load generator sends requests without pause to both web servers (lab-1 and
 * lab-2) through nginx. Every response must be 200, and no response may mix two releases: the
 * Laravel example app's page reads the revision in public/index.php, before the framework
 * loads, and again through the app's base path once it has (some requests wait 20 ms between
 * the two reads), and the two must match. Each release runs composer and Laravel's four cache
 * commands, as a real one does.
 *
 * The test prints request count, errors, mixed responses and p50/p99 latency during and outside
 * switches. "During" is any request that overlaps the time from a run's "Switch to the new
 * release" task starting to its health check ending, as seen in the run's JSON events. Latencies
 * are reported, never asserted: they depend on the machine.
 *
 * It uses its own app (zdt, domain zdt.flight.test, on lab-1 and lab-2) in its own definitions
 * folder, so it leaves the other tests' apps alone. Its shared files (an upload, a session,
 * .env) are checksummed before and after on every server.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { describeRun, flight, type FlightRun } from '../../lab-kit/cli.js';
import { makeDefs, type TempDefs } from '../../lab-kit/defs.js';
import { fetchPage } from '../../lab-kit/http.js';
import { formatReport, isError, isMixed, now, report, startLoad } from '../../lab-kit/load.js';
import { makeLaravelRepo, type FixtureRepo } from '../../lab-kit/repos.js';
import type { LabServer } from '../../lab-kit/ssh.js';
import { assertOk } from '../support/flight.js';
import { ensureLab, labSkipReason } from '../support/lab.js';
import { appYaml, checksumCount, currents, seedShared, sharedChecksums } from '../support/release-lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const APP = 'zdt';
const DOMAIN = 'zdt.flight.test';
const WEB = ['lab-1', 'lab-2'];
const RELEASES = 20;
const GREETING = 'zero downtime';

const appServers = (): LabServer[] => WEB.map((n) => servers!.find((s) => s.name === n)!);

let defs: TempDefs | undefined;
let repo: FixtureRepo | undefined;

before(async () => {
  if (skip) return;
  repo = makeLaravelRepo();
  defs = await makeDefs();
  // Only this test's app in the folder: runs touch nothing of the other tests' apps.
  for (const f of ['demo', 'shop']) fs.rmSync(defs.appFile(f), { force: true });
  fs.writeFileSync(
    defs.appFile(APP),
    appYaml({
      name: APP,
      repo: repo.dir,
      domain: DOMAIN,
      servers: WEB,
      // Laravel's caches, as a real release builds them; keep_releases 3 makes pruning run
      // under load too.
      releaseCommands: ['artisan config:cache', 'artisan route:cache', 'artisan event:cache', 'artisan view:cache'],
      keep: 3,
      health: { path: '/health', status: 200, timeout: 15 },
    }),
  );
  // Idempotent: a no-change run when the lab is already provisioned.
  assertOk(await flight(['provision', 'lab', '--defs', defs.dir]));
  assertOk(await flight(['app:configure', APP, '--defs', defs.dir]));
  // The shared files an operator keeps (the .env first of all), before the first release.
  await seedShared(appServers(), APP, GREETING);
});

after(() => {
  defs?.cleanup();
  repo?.cleanup();
});

test(`zero downtime: ${RELEASES} releases under load on both web servers`, { skip, timeout: 40 * 60_000 }, async () => {
  const shaA = repo!.shas[0]!;
  const shaB = repo!.commit('v2');
  const d = defs!.dir;

  // A release serving before the load starts.
  assertOk(await flight(['app:release', APP, shaA, '--defs', d]));
  const sumsBefore = await sharedChecksums(appServers(), APP);
  for (const name of WEB) {
    const page = await fetchPage(servers!.find((s) => s.name === name)!.address, DOMAIN);
    assert.equal(page.sha, shaA, `${name} serves the first release`);
    assert.deepEqual([page.greeting, page.config], [GREETING, 'cache'], `${name} reads the shared .env, through the config cache`);
  }

  const load = startLoad({
    targets: appServers().map((s) => ({ name: s.name, address: s.address, host: DOMAIN })),
    loopsPerTarget: 2,
    delayEvery: 4,
    delayMs: 20,
    maxMs: 40 * 60_000,
  });
  const windows: Array<[number, number]> = [];
  const runs: FlightRun[] = [];
  const t0 = now();
  try {
    // Wait for the first responses, so the load is flowing before the first switch.
    while (load.samples.length < 20 && now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < RELEASES; i++) {
      const sha = i % 2 === 0 ? shaB : shaA;
      let open: number | undefined;
      const run = await flight(['app:release', APP, sha, '--defs', d], {
        timeoutMs: 5 * 60_000,
        onEvent: (e) => {
          if (e.event === 'task_start' && e.task === 'Switch to the new release') open = now();
          if (e.event === 'task_end' && e.task === 'Health check through nginx' && open !== undefined) {
            windows.push([open, now()]);
            open = undefined;
          }
        },
      });
      if (open !== undefined) windows.push([open, now()]);
      runs.push(run);
      // A failed release is a failure of the test, but the load is stopped first (finally).
      if (run.code !== 0) break;
    }
    // A last moment of load after the last switch, so its aftermath is measured too.
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    await load.stop();
  }
  const seconds = (now() - t0) / 1000;
  const samples = load.samples;
  const r = report(samples, windows);
  const releaseMs = runs.map((x) => x.ms).sort((a, b) => a - b);
  console.log(
    [
      '',
      `zero downtime: ${runs.length} releases in ${seconds.toFixed(0)} s (each ${(releaseMs[0]! / 1000).toFixed(1)}-${(releaseMs.at(-1)! / 1000).toFixed(1)} s), ${windows.length} switch windows of ${(windows.reduce((s, [a, b]) => s + b - a, 0) / 1000).toFixed(1)} s in all`,
      formatReport(r),
      '',
    ].join('\n'),
  );

  for (const run of runs) assertOk(run);
  assert.equal(runs.length, RELEASES, 'every release ran');
  const bad = samples.filter(isError).slice(0, 5);
  assert.equal(r.all.errors, 0, `every response is a 200 page; first failures: ${JSON.stringify(bad)}`);
  const mixed = samples.filter(isMixed).slice(0, 5);
  assert.equal(r.all.mixed, 0, `no response mixes two releases; first: ${JSON.stringify(mixed)}`);
  // The load was real: a steady flow on both servers, and through the switches themselves.
  assert.ok(r.all.requests >= RELEASES * 20, `at least ${RELEASES * 20} requests were sent (${r.all.requests})`);
  assert.equal(windows.length, RELEASES, 'every run reported its switch');
  assert.ok(r.during.requests >= RELEASES, `requests overlapped the switches (${r.during.requests})`);
  for (const name of WEB) {
    assert.ok((r.perTarget[name]?.requests ?? 0) > RELEASES, `${name} got requests`);
    assert.deepEqual(
      [...(r.revisions[name] ?? [])].sort(),
      [shaA, shaB].sort(),
      `${name} served both commits while the load ran (so the switches happened under it)`,
    );
  }

  // The last release is the one served, everywhere, read by both files.
  const last = RELEASES % 2 === 0 ? shaA : shaB;
  for (const s of appServers()) {
    const page = await fetchPage(s.address, DOMAIN);
    assert.equal(page.sha, last, `${s.name} serves the last release`);
    assert.equal(page.marker, last);
  }
  const cur = await currents(appServers(), APP);
  assert.ok(Object.values(cur).every((id) => id.endsWith(last.slice(0, 12))), `current is the last release: ${JSON.stringify(cur)}`);

  // Nothing lost: the shared files are byte for byte what they were, on every server.
  const sumsAfter = await sharedChecksums(appServers(), APP);
  assert.deepEqual(sumsAfter, sumsBefore, 'shared files are intact after the releases');
  for (const [host, n] of Object.entries(checksumCount(sumsAfter))) assert.ok(n >= 3, `${host}: the seeded shared files are there (${n})`);
});
