/**
 * Releases that go wrong, on the default lab, and what Flight promises then:
 *
 * 1. One server's SSH daemon dies during the prepare phase: the run fails, no server's `current`
 *    changes, requests in flight to both web servers still succeed (only sshd is stopped; nginx
 *    and PHP-FPM keep serving), the half-made release is removed where reachable, and the next
 *    release, with the daemon back, succeeds.
 * 2. A release command fails on one server only: exit 2, the message names the server and the
 *    step, no `current` changes, no release dir is left anywhere.
 * 3. Deploy lock: of two releases started together exactly one runs, the other fails fast with
 *    the holder's details; a run killed mid-release leaves its lock, the next release is refused
 *    naming it, and `--force-unlock` recovers and says whose lock it broke.
 * 4. Rollback to the previous release, to a named one, and refusals (nothing older, unknown id)
 *    that change nothing.
 * 5. A release whose health check fails is switched back everywhere and the run says so.
 * 6. Through all of it, the files in shared/ (an upload, a session, .env) are intact on every
 *    server.
 * 7. Queue workers: a release waits until every worker runs the new release; one whose new code
 *    crashes the workers at boot fails visibly (exit 2, the workers' last output) while its
 *    pages keep serving, and a rollback brings the workers back.
 *
 * Its own app (zdf, domain zdf.flight.test, on all three servers) in its own definitions folder;
 * the tests run in order and each starts from where the previous one left the app.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { describeRun, flight, hostResults, type FlightOptions, type FlightRun } from '../../lab-kit/cli.js';
import { makeDefs, type TempDefs } from '../../lab-kit/defs.js';
import { fetchPage } from '../../lab-kit/http.js';
import { formatReport, isError, isMixed, now, report, startLoad } from '../../lab-kit/load.js';
import { FIXTURE_APP, makeFixtureRepo, type FixtureRepo } from '../../lab-kit/repos.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { assertOk } from '../support/flight.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';
import {
  appYaml,
  checksumCount,
  currents,
  dirsOf,
  releaseDirs,
  runText,
  seedShared,
  sharedChecksums,
  serverPid,
  startSshd,
  stopSshd,
  type AppSpec,
} from '../support/release-lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const APP = 'zdf';
const DOMAIN = 'zdf.flight.test';
const ALL = ['lab-1', 'lab-2', 'lab-3'];
const WEB = ['lab-1', 'lab-2'];
/** The server that fails in the fault tests. */
const VICTIM = 'lab-2';
const LOCK = `/home/${APP}/.flight/deploy.lock`;
const DEPLOYER = `${os.userInfo().username}@${os.hostname()}`;

const server = (name: string): LabServer => {
  const s = servers?.find((x) => x.name === name);
  if (!s) throw new Error(`no lab server ${name}`);
  return s;
};
const all = () => ALL.map(server);
const web = () => WEB.map(server);

let defs: TempDefs | undefined;
let repo: FixtureRepo | undefined;
/** Commits: A and B are released first; others are made by the tests that need them. */
const sha: Record<string, string> = {};
let sharedBefore: Record<string, string> | undefined;

function setApp(over: Partial<AppSpec> = {}): void {
  fs.writeFileSync(
    defs!.appFile(APP),
    appYaml({ name: APP, repo: repo!.dir, domain: DOMAIN, servers: ALL, keep: 4, health: { path: '/health', status: 200, timeout: 15 }, ...over }),
  );
}

const release = (commit: string, extra: string[] = [], opts: FlightOptions = {}) =>
  flight(['app:release', APP, commit, '--defs', defs!.dir, ...extra], { timeoutMs: 5 * 60_000, ...opts });
const rollback = (extra: string[] = []) => flight(['app:rollback', APP, '--defs', defs!.dir, ...extra], { timeoutMs: 5 * 60_000 });

/** Every web server serves this commit, read by both files. */
async function assertServing(commit: string): Promise<void> {
  for (const s of web()) {
    const page = await fetchPage(s.address, DOMAIN);
    assert.equal(page.sha, commit, `${s.name} serves ${commit}: ${JSON.stringify(page)}`);
    assert.equal(page.marker, commit, `${s.name}: both reads agree`);
  }
}

async function assertUnlocked(): Promise<void> {
  const r = await sshRun(server('lab-1'), `test -e ${LOCK}`);
  assert.notEqual(r.code, 0, 'no deploy lock is left behind');
}

/** Tasks the run got as far as on the servers (host results other than skipped). */
function tasksRun(run: FlightRun): Set<string> {
  return new Set(hostResults(run).filter((e) => e.host !== 'localhost' && e.status !== 'skipped').map((e) => e.task));
}

before(async () => {
  if (skip) return;
  // The stand-in app: failures on demand (`artisan fail --on-host`, `artisan sleep`) on one
  // server only; Laravel's own failures (a migration, a config cache) are in the workflows test.
  repo = makeFixtureRepo();
  defs = await makeDefs();
  // Only this test's app in the folder: runs touch nothing of the other tests' apps.
  for (const f of ['demo', 'shop']) fs.rmSync(defs.appFile(f), { force: true });
  setApp();
  assertOk(await flight(['provision', 'lab', '--defs', defs.dir]));
  assertOk(await flight(['app:configure', APP, '--defs', defs.dir]));
  sha.A = repo.shas[0]!;
  sha.B = repo.commit('v2');
  assertOk(await release(sha.A));
  await seedShared(all(), APP, 'nothing lost');
  sharedBefore = await sharedChecksums(all(), APP);
  assertOk(await release(sha.B));
  await assertServing(sha.B);
});

after(() => {
  defs?.cleanup();
  repo?.cleanup();
});

test(`fault: ${VICTIM}'s SSH daemon stops during the prepare phase`, { skip, timeout: 20 * 60_000 }, async () => {
  // A slow release command keeps every server in the prepare phase long enough to act.
  setApp({ releaseCommands: ['artisan sleep 4'] });
  sha.C = repo!.commit('v3');
  const before = await currents(all(), APP);
  const load = startLoad({ targets: web().map((s) => ({ name: s.name, address: s.address, host: DOMAIN })), loopsPerTarget: 2, maxMs: 15 * 60_000 });
  let stopping: Promise<void> | undefined;
  let restarting: Promise<void> | undefined;
  let stoppedAt = 0;
  let runEnd = 0;
  let run: FlightRun;
  const pidBefore = await serverPid(VICTIM);
  try {
    try {
      run = await release(sha.C, [], {
        onEvent: (e) => {
          if (!stopping && e.event === 'task_start' && e.task === 'Release commands') {
            stoppedAt = now();
            stopping = stopSshd(VICTIM);
          }
          // Once Flight has seen the server go, the daemon comes back at once: the run must fail
          // all the same, and the server is without SSH for as short a time as possible.
          if (stopping && !restarting && e.event === 'host_result' && e.host === VICTIM && e.status === 'unreachable') {
            restarting = stopping.then(() => startSshd(server(VICTIM)));
          }
        },
      });
      runEnd = now();
      await stopping;
    } finally {
      await load.stop();
    }
  } finally {
    // Always bring the daemon back, whatever failed above.
    await restarting?.catch(() => undefined);
    await startSshd(server(VICTIM));
  }
  // A lab server whose sshd is silent is restarted whole by `flight lab up` (ensureLab): if a test
  // running beside this one did that, what follows would fail for reasons of its own.
  assert.equal(await serverPid(VICTIM), pidBefore, `${VICTIM} was restarted by someone else while its sshd was stopped`);
  const r = report(load.samples, stoppedAt ? [[stoppedAt, runEnd]] : []);
  console.log(`\nfault mid-release: exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s; load while it ran:\n${formatReport(r, `${VICTIM} cut off`)}\n`);

  assert.ok(stopping, `the run reached the release commands, where ${VICTIM}'s sshd was stopped\n${describeRun(run)}`);
  assert.equal(run.code, 4, `the run fails as unreachable (exit 4)\n${describeRun(run)}`);
  assert.ok(!run.stderr.includes('[killed by'), `the run ended by itself, not by the test's timeout\n${describeRun(run)}`);
  const text = runText(run);
  assert.match(text, new RegExp(`${VICTIM}`), `the failure names ${VICTIM}`);
  assert.match(text, /No server was switched/, `the run says no server was switched\n${text}`);

  assert.deepEqual(await currents(all(), APP), before, 'no server switched');
  const left = await dirsOf(all(), APP, sha.C);
  for (const name of ALL.filter((n) => n !== VICTIM)) assert.deepEqual(left[name], [], `${name}: the half-made release is removed`);
  console.log(`${VICTIM} (unreachable during the cleanup) kept: ${JSON.stringify(left[VICTIM])}`);

  assert.equal(r.all.errors, 0, `requests in flight all succeed: ${JSON.stringify(load.samples.filter(isError).slice(0, 5))}`);
  assert.equal(r.all.mixed, 0, 'no response mixes two releases');
  for (const name of WEB) assert.ok((r.perTarget[name]?.requests ?? 0) > 0, `${name} was under load`);
  assert.deepEqual(Object.values(r.revisions).flat().filter((x) => x !== sha.B), [], 'only the release that was serving was served');

  // With the daemon back, the next release goes through.
  setApp();
  assertOk(await release(sha.C));
  await assertServing(sha.C);
  const cur = await currents(all(), APP);
  assert.ok(Object.values(cur).every((id) => id === cur['lab-1'] && id.endsWith(sha.C!.slice(0, 12))), `every server is on the new release: ${JSON.stringify(cur)}`);
  // The half-made one the failed run could not remove goes with the next release's pruning.
  const dirs = await releaseDirs(server(VICTIM), APP);
  for (const id of left[VICTIM]!) assert.ok(!dirs.some((d) => d.id === id), `${VICTIM}: the half-made ${id} is gone after the next release: ${JSON.stringify(dirs)}`);
});

test(`fault: a release command fails on ${VICTIM} only`, { skip, timeout: 20 * 60_000 }, async () => {
  setApp({ releaseCommands: [`artisan fail --on-host=${VICTIM} --message=disk-full-on-purpose`] });
  sha.D = repo!.commit('v4');
  const before = await currents(all(), APP);
  const run = await release(sha.D);
  setApp();

  assert.equal(run.code, 2, `a failed task: exit 2\n${describeRun(run)}`);
  const text = runText(run);
  assert.match(text, new RegExp(`failed on ${VICTIM} at 'Release commands'`), `the message names the server and the step\n${text}`);
  assert.match(text, /disk-full-on-purpose/, 'and says what the command said');
  assert.match(text, /No server was switched/);
  assert.deepEqual(await currents(all(), APP), before, 'no server switched');
  assert.deepEqual(await dirsOf(all(), APP, sha.D), Object.fromEntries(ALL.map((n) => [n, []])), 'the half-made release is removed on every server');
  await assertServing(sha.C!);
  await assertUnlocked();
});

test('lock: two releases at once, then a killed run and --force-unlock', { skip, timeout: 20 * 60_000 }, async () => {
  setApp({ releaseCommands: ['artisan sleep 4'] });
  // Started together; each notes when it ended.
  const timed = async (p: Promise<FlightRun>) => {
    const r = await p;
    return { run: r, end: now() };
  };
  const [one, two] = await Promise.all([timed(release(sha.A!)), timed(release(sha.B!))]);
  const won = [one, two].filter((x) => x.run.code === 0);
  assert.equal(won.length, 1, `exactly one of the two runs succeeds\n${describeRun(one.run)}\n${describeRun(two.run)}`);
  const winner = won[0]!;
  const loser = winner === one ? two : one;
  const winnerSha = winner === one ? sha.A! : sha.B!;
  // Released below, so that the release before the current one is another commit (for rollback).
  const otherSha = winner === one ? sha.B! : sha.A!;
  assert.equal(loser.run.code, 2, `the other fails\n${describeRun(loser.run)}`);
  const m = /another deploy holds the lock: (\S+) since (\S+) \(release ([0-9a-f]+), run ([0-9a-f]+)\)/.exec(runText(loser.run));
  assert.ok(m, `the refusal gives the holder's details\n${runText(loser.run)}`);
  assert.equal(m[1], DEPLOYER, 'who holds it');
  assert.match(m[2]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'since when');
  assert.ok(winnerSha.startsWith(m[3]!), `the holder is the other run, releasing ${winnerSha}`);
  assert.ok(!tasksRun(loser.run).has('Upload and extract the release'), 'the refused run did no release work');
  console.log(`\nlock: the refused run ended ${((winner.end - loser.end) / 1000).toFixed(1)} s before the one holding the lock`);
  assert.ok(loser.end < winner.end, 'the refused run fails before the holder finishes');
  await assertServing(winnerSha);
  await assertUnlocked();

  // A run killed in the middle of its release leaves its lock behind.
  const before = await currents(all(), APP);
  let killed = false;
  const dead = await release(sha.D!, [], {
    onEvent: (e, child) => {
      if (!killed && e.event === 'task_start' && e.task === 'Release commands') {
        killed = true;
        child.kill('SIGKILL');
      }
    },
  });
  assert.ok(killed, `the run was killed during the prepare phase\n${describeRun(dead)}`);
  assert.notEqual(dead.code, 0);
  const info = (await sshRun(server('lab-1'), `cat ${LOCK}/info`)).stdout;
  const deadRun = /^run=(\S+)$/m.exec(info)?.[1];
  assert.ok(deadRun, `the dead run's lock is on lab-1:\n${info}`);
  assert.match(info, new RegExp(`^detail=release ${sha.D!.slice(0, 12)}$`, 'm'));
  assert.deepEqual(await currents(all(), APP), before, 'the killed run switched nothing');

  // The next release is refused, naming the dead run, and leaves its lock alone.
  setApp();
  const blocked = await release(otherSha);
  assert.equal(blocked.code, 2, describeRun(blocked));
  const text = runText(blocked);
  assert.match(text, new RegExp(`another deploy holds the lock: ${DEPLOYER} since \\S+ \\(release ${sha.D!.slice(0, 12)}, run ${deadRun}\\)`), text);
  assert.match(text, /--force-unlock/, 'the refusal says how to break a stale lock');
  assert.ok(!tasksRun(blocked).has('Upload and extract the release'), 'the refused run did no release work');
  assert.equal((await sshRun(server('lab-1'), `cat ${LOCK}/info`)).stdout, info, 'the refused run left the lock as it was');
  assert.deepEqual(await currents(all(), APP), before);

  // --force-unlock breaks it, says whose it was, and releases.
  const forced = await release(otherSha, ['--force-unlock']);
  assertOk(forced);
  assert.match(runText(forced), new RegExp(`broke the lock held by ${DEPLOYER} since \\S+ \\(release ${sha.D!.slice(0, 12)}, run ${deadRun}\\)`), runText(forced));
  await assertServing(otherSha);
  await assertUnlocked();
  // The killed run's half-made release goes with the recovering release's pruning.
  assert.deepEqual(await dirsOf(all(), APP, sha.D!), Object.fromEntries(ALL.map((n) => [n, []])), "the killed run's half-made release is removed");
});

test('rollback: to the previous release, to a named one, and refusals that change nothing', { skip, timeout: 20 * 60_000 }, async () => {
  // What the servers hold, read from the servers: complete releases (with REVISION), by id.
  const cur = await currents(all(), APP);
  const current = cur['lab-1']!;
  assert.ok(Object.values(cur).every((id) => id === current), `every server serves one release: ${JSON.stringify(cur)}`);
  const complete: Record<string, Array<{ id: string; sha: string }>> = {};
  for (const s of all()) complete[s.name] = (await releaseDirs(s, APP)).filter((d) => d.complete);
  const common = complete['lab-1']!.filter((d) => ALL.every((n) => complete[n]!.some((x) => x.id === d.id && x.sha === d.sha)));
  const older = common.filter((d) => d.id < current);
  assert.ok(older.length >= 2, `at least two releases older than the current one on every server: ${JSON.stringify(complete)}`);
  const previous = older.at(-1)!;
  const oldest = older[0]!;
  for (const n of ALL) assert.equal(complete[n]![0]!.id, oldest.id, `${n}: ${oldest.id} is its oldest complete release`);
  assert.notEqual(previous.sha, (await fetchPage(server('lab-1').address, DOMAIN)).sha, 'the previous release is another commit than the current one');

  assertOk(await rollback());
  await assertServing(previous.sha);
  assert.deepEqual(await currents(all(), APP), Object.fromEntries(ALL.map((n) => [n, previous.id])), 'every server is on the previous release');
  await assertUnlocked();

  assertOk(await rollback(['--to', oldest.id]));
  await assertServing(oldest.sha);
  assert.deepEqual(await currents(all(), APP), Object.fromEntries(ALL.map((n) => [n, oldest.id])), `every server is on ${oldest.id}`);

  // Nothing older than the oldest: refused, nothing changes.
  const none = await rollback();
  assert.notEqual(none.code, 0, describeRun(none));
  assert.match(runText(none), /no release before \S+ to roll back to/, runText(none));
  assert.deepEqual(await currents(all(), APP), Object.fromEntries(ALL.map((n) => [n, oldest.id])), 'nothing changed');
  await assertServing(oldest.sha);

  // An id that is not there: refused, nothing changes.
  const missing = '20000101T000000Z-000000000000';
  const bad = await rollback(['--to', missing]);
  assert.notEqual(bad.code, 0, describeRun(bad));
  assert.match(runText(bad), new RegExp(`release ${missing} is not a complete release on lab-\\d`), runText(bad));
  assert.deepEqual(await currents(all(), APP), Object.fromEntries(ALL.map((n) => [n, oldest.id])), 'nothing changed');
  await assertServing(oldest.sha);
  await assertUnlocked();

  // Back to the newest, for what follows.
  assertOk(await rollback(['--to', current]));
  assert.deepEqual(await currents(all(), APP), cur);
});

test('health check: a release that fails it is switched back everywhere', { skip, timeout: 20 * 60_000 }, async () => {
  // A commit whose /health answers 500 (the page itself still works).
  const index = fs.readFileSync(path.join(repo!.dir, 'public', 'index.php'), 'utf8');
  const broken = index.replace(`    echo "ok\\n";\n    return;`, `    http_response_code(500);\n    echo "unhealthy\\n";\n    return;`);
  assert.notEqual(broken, index, 'the fixture still has the /health branch this test edits');
  sha.F = repo!.commit('v6-unhealthy', { 'public/index.php': broken });
  const before = await currents(all(), APP);
  const serving = (await fetchPage(server('lab-1').address, DOMAIN)).sha!;

  const run = await release(sha.F);
  assert.equal(run.code, 2, describeRun(run));
  const text = runText(run);
  assert.match(text, /at 'Health check through nginx'/, `the failure names the health check\n${text}`);
  assert.match(text, new RegExp(`Every server was switched back to ${before['lab-1']}`), `the run says it switched back\n${text}`);
  assert.deepEqual(await currents(all(), APP), before, 'every server is back on the release it served');
  await assertServing(serving);
  assert.deepEqual(await dirsOf(all(), APP, sha.F), Object.fromEntries(ALL.map((n) => [n, []])), 'the failed release is removed');
  await assertUnlocked();
});

test('nothing lost: shared files are intact on every server after all of the above', { skip }, async () => {
  assert.ok(sharedBefore, 'checksums were taken before the tests');
  const after = await sharedChecksums(all(), APP);
  assert.deepEqual(after, sharedBefore);
  for (const [host, n] of Object.entries(checksumCount(after))) assert.ok(n >= 3, `${host}: the seeded shared files are there (${n})`);
});

test('workers: a release waits for them on the new release; workers crashing at boot fail it, a rollback brings them back', { skip, timeout: 20 * 60_000 }, async () => {
  const WORKER = 'lab-3';
  const program = `${APP}-default`;
  // queue:restart reaches the workers through the file cache, shared between releases.
  setApp({ queue: { server: WORKER, workers: 2, stopWaitTimeout: 5 }, shared: ['storage/app/public', 'storage/framework/sessions', 'storage/framework/cache', '.env'] });
  /** Each worker process's state and the release its working directory is in. */
  const workers = async () => {
    const out = await onHost(server(WORKER), `supervisorctl status '${program}:*' | while read -r n st rest; do pid=\${rest#pid }; pid=\${pid%%,*}; echo "$n $st $(basename "$(readlink /proc/$pid/cwd 2>/dev/null)")"; done`);
    return out.trim().split('\n').map((l) => l.split(' '));
  };
  try {
    // On top of the unhealthy commit above: the page as the fixture has it.
    sha.G = repo!.commit('v7-workers', { 'public/index.php': fs.readFileSync(path.join(FIXTURE_APP, 'public', 'index.php'), 'utf8') });
    const good = await release(sha.G);
    assertOk(good);
    const waited = hostResults(good, { task: 'Restart queue workers and wait for them on the release' }).filter((e) => e.status !== 'skipped');
    assert.deepEqual(waited.map((e) => e.host), [WORKER], 'the workers are waited for where they run');
    const goodId = (await currents([server(WORKER)], APP))[WORKER]!;
    assert.deepEqual(await workers(), [[`${program}:${program}_00`, 'RUNNING', goodId], [`${program}:${program}_01`, 'RUNNING', goodId]], 'both workers run the new release when the run ends');

    // New code that makes every worker die at boot; its pages and /health are fine.
    const artisan = fs.readFileSync(path.join(repo!.dir, 'artisan'), 'utf8');
    const crashing = artisan.replace('declare(strict_types=1);\n', `declare(strict_types=1);\nif (($argv[1] ?? '') === 'queue:work') { fwrite(STDERR, "worker boot failed: Class App\\\\Jobs\\\\Missing not found\\n"); exit(255); }\n`);
    assert.notEqual(crashing, artisan, 'the fixture artisan still declares strict types');
    sha.H = repo!.commit('v8-workers-crash', { artisan: crashing });
    const bad = await release(sha.H);
    assert.equal(bad.code, 2, describeRun(bad));
    const text = runText(bad);
    assert.match(text, new RegExp(`is serving on every server, but the queue workers on ${WORKER} do not run it`), text);
    assert.match(text, /FATAL/, `the workers' state is named\n${text}`);
    assert.match(text, /worker boot failed: Class App\\Jobs\\Missing not found/, `the workers' own last words are in the message\n${text}`);
    assert.match(text, /flight app:rollback zdf/, 'the way back is named');
    await assertServing(sha.H);
    const log = (await onHost(server(WORKER), `tail -n 1 /home/${APP}/.flight/releases.log`)).trim();
    assert.match(log, new RegExp(`\\t${sha.H}\\t.*\\tworkers-failed$`), log);
    await assertUnlocked();

    // The rollback starts the dead workers again, on the release rolled back to.
    assertOk(await rollback());
    await assertServing(sha.G);
    assert.deepEqual((await workers()).map((w) => [w[1], w[2]]), [['RUNNING', goodId], ['RUNNING', goodId]]);
  } finally {
    await sshRun(server(WORKER), `rm -f /etc/supervisor/conf.d/${program}.conf; supervisorctl update >/dev/null 2>&1; true`);
  }
});
