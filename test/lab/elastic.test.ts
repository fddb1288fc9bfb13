/**
 * Elastic clusters on a lab of its own (4 servers at 127.0.0.64-67; bench:opcache takes .60):
 * lab-1..3 form the cluster, lab-4 starts outside it. The test app `ela` (ela.flight.test) is
 * provisioned, configured and released on the three; then, while releases of `ela` run back to
 * back in a loop, lab-4 is added as a web server
 * (`flight server:add lab lab-4 127.0.0.67 --web --copy queues`).
 *
 * Asserted: when server:add prints `ready: lab-4`, lab-4 serves through nginx the commit lab-1..3
 * serve (probed at once; if a release happens to be switching at that instant, probed again for
 * at most 3 s: every release that switches after the add includes lab-4, so the four agree again
 * unless lab-4 was left behind); it got the app's .env and queue worker, but neither the
 * scheduler nor the deploy commands (migrations) of lab-1; a later release of the loop reaches
 * it; a release with definitions read before the add is refused without changing anything; after
 * `flight server:remove lab lab-4` its worker is gone, a release with definitions read before
 * the remove is refused, and a release no longer touches it.
 *
 * The loop and the add share the app's deploy lock: a release that finds it held (by another
 * release or by the add joining lab-4) fails at once, and one that read the definitions just
 * before lab-4 joined is refused by the joined-servers check; both change nothing, and the loop
 * runs the same commit again. Those are counted and reported; any other failure fails the test.
 *
 * Provisioning the fresh servers (apt) takes several minutes; the instance is torn down at the end.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeRun, failures, flight, type FlightRun } from '../../lab-kit/cli.js';
import { fetchPage, waitFor } from '../../lab-kit/http.js';
import type { LabServer } from '../../lab-kit/ssh.js';
import { privateLab } from '../support/flight.js';
import { labSkipReason, onHost } from '../support/lab.js';

const skip = labSkipReason() ?? false;

const APP = 'ela';
const DOMAIN = 'ela.flight.test';
const GREETING = 'hello from the shared env';

interface Attempt {
  sha: string;
  start: number;
  end: number;
  outcome: 'ok' | 'lock' | 'stale' | 'other';
  /** Servers the run touched (its recap). */
  hosts: string[];
  detail?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function appFile(repo: string): string {
  return `# The elastic test's app: lab-1 carries everything a server can have, to check what is copied.
repo: ${JSON.stringify(repo)}
cluster: lab
php: "8.2"
domain: ${DOMAIN}
release_commands: [artisan config:cache]
shared: [storage/app/public, storage/framework/cache, storage/framework/sessions, storage/logs, .env]
health_check: { path: /health, status: 200, timeout: 10 }
keep_releases: 3
servers:
  - name: lab-1
    web: { max_workers: 4, min_spare_workers: 1, initial_workers: 2, max_spare_workers: 3 }
    deploy_commands: [artisan migrate --force]
    queues:
      - { name: default, command: "queue:work --sleep=1", workers: 1, stop_wait_timeout: 5 }
    scheduler: true
  - name: lab-2
  - name: lab-3
`;
}

function classify(r: FlightRun): Attempt['outcome'] {
  if (r.code === 0) return 'ok';
  const text = failures(r).join('\n');
  if (/another deploy holds the lock/.test(text)) return 'lock';
  if (/(joined|left) this app at .* this run's definitions/.test(text)) return 'stale';
  return 'other';
}

/** The commit each server serves through nginx, all four at once. */
async function served(servers: LabServer[]): Promise<Record<string, string>> {
  const pages = await Promise.all(servers.map((s) => fetchPage(s.address, DOMAIN).then((p) => [s.name, p.sha!] as const)));
  return Object.fromEntries(pages);
}

test('a fourth server joins while releases run, serves the current commit when ready, and leaves', { skip, timeout: 240 * 60_000 }, async (t) => {
  // The stand-in app: releases back to back must be quick for the loop to race the add; what
  // a Laravel release does is proven by the workflows test.
  const { work, repo, lab } = await privateLab(t, { name: 'elastic', first: '127.0.0.64', servers: 4, app: 'stand-in' });
  const D = ['--defs', lab.defs.dir];
  const [lab1, , , lab4] = lab.servers as [LabServer, LabServer, LabServer, LabServer];
  assert.deepEqual(lab.servers.map((s) => s.address), ['127.0.0.64', '127.0.0.65', '127.0.0.66', '127.0.0.67']);

  // lab-4 starts outside the cluster: only lab-1..3 stay in the cluster file the lab wrote.
  const clusterFile = path.join(lab.defs.dir, 'clusters', 'lab.yml');
  const text = fs.readFileSync(clusterFile, 'utf8');
  fs.writeFileSync(clusterFile, text.slice(0, text.indexOf('  - name: lab-4')));
  // The example app `shop` (on lab-1, never released here) stays, so lab-4 also joins an app
  // with nothing to copy yet; `demo` goes, to keep the runs short. The cluster has no Redis
  // server now (lab-4 was it): shop does without.
  fs.rmSync(lab.defs.appFile('demo'));
  const shop = fs.readFileSync(lab.defs.appFile('shop'), 'utf8');
  assert.match(shop, /^redis: true$/m);
  fs.writeFileSync(lab.defs.appFile('shop'), shop.replace(/^redis: true\n/m, ''));
  fs.writeFileSync(lab.defs.appFile(APP), appFile(repo.dir));
  const shas = [repo.shas[0]!, repo.commit('v2'), repo.commit('v3'), repo.commit('v4'), repo.commit('v5')];

  // apt on fresh servers is slow on a busy machine: runs that install packages get 75 minutes.
  const INSTALLS = 75 * 60_000;
  const timed = async (label: string, args: string[]) => {
    const r = await flight([...args, ...D], { timeoutMs: INSTALLS });
    assert.equal(r.code, 0, describeRun(r));
    t.diagnostic(`${label}: ${(r.ms / 1000).toFixed(1)} s`);
    return r;
  };
  await timed('provision lab-1..3', ['provision', 'lab']);
  await timed('configure ela', ['app:configure', APP]);
  const envFile = path.join(work, 'ela.env');
  fs.writeFileSync(envFile, `APP_NAME=ela\nAPP_ENV=production\nAPP_GREETING=${JSON.stringify(GREETING)}\n`, { mode: 0o600 });
  await timed('env:push', ['env:push', APP, envFile]);
  await timed('first release', ['app:release', APP, shas[0]!]);

  // Releases back to back: each success moves to the next commit; a refused run tries the same
  // commit again (it changed nothing).
  const attempts: Attempt[] = [];
  let stop = false;
  const cycle = shas.slice(1, 4);
  const loop = (async () => {
    while (!stop) {
      const sha = cycle[attempts.filter((a) => a.outcome === 'ok').length % cycle.length]!;
      const start = Date.now();
      const r = await flight(['app:release', APP, sha, ...D]);
      const outcome = classify(r);
      attempts.push({ sha, start, end: Date.now(), outcome, hosts: Object.keys(r.recap?.hosts ?? {}).filter((h) => h !== 'localhost'), detail: outcome === 'ok' ? undefined : describeRun(r) });
      if (outcome !== 'ok') await sleep(300);
    }
  })();
  try {
    assert.ok(await waitFor(async () => (attempts.some((a) => a.outcome === 'ok') ? true : undefined), { timeoutMs: 120_000 }), 'the release loop runs');

    // The definitions as they are before the add: what a CI checkout without the state file, or
    // a run that read them just before lab-4 joined, would release with.
    const stale = lab.defs.copy();
    t.after(() => stale.cleanup());
    const steps: { s: number; line: string }[] = [];
    let readyAt = 0;
    let atReady: Promise<{ tries: number; shas: Record<string, string> }> | undefined;
    const probe = async () => {
      let shasNow: Record<string, string> = {};
      for (let tries = 1; ; tries++) {
        shasNow = await served(lab.servers);
        if (new Set(Object.values(shasNow)).size === 1 || tries === 7) return { tries, shas: shasNow };
        await sleep(500);
      }
    };
    const add = await flight(['server:add', 'lab', 'lab-4', lab4.address, '--web', '--copy', 'queues', ...D], {
      json: false,
      timeoutMs: INSTALLS,
      onLine: (line) => {
        const m = /^==> \+([\d.]+)s (.*)$/.exec(line);
        if (m) steps.push({ s: Number(m[1]), line: m[2]! });
        if (line === 'ready: lab-4' && !atReady) {
          readyAt = Date.now();
          atReady = probe();
        }
      },
    });
    assert.equal(add.code, 0, `${describeRun(add)}\n${add.stdout.split('\n').filter((l) => l.startsWith('==>')).join('\n')}`);
    assert.equal(add.stdout.trimEnd().split('\n').at(-1), 'ready: lab-4', 'the last line says the server is ready');
    const at = await atReady!;
    t.diagnostic(`at ready: ${JSON.stringify(at.shas)} (probe ${at.tries})`);
    assert.equal(new Set(Object.values(at.shas)).size, 1, `when ready, lab-4 serves the commit lab-1..3 serve: ${JSON.stringify(at.shas)}`);

    const stepAt = (re: RegExp) => steps.find((x) => re.test(x.line))?.s;
    const provision = [stepAt(/^provision lab-4$/), stepAt(/^configure /)];
    const join = [stepAt(/^ela: .env copied|^ela: waiting for the deploy lock/), stepAt(/^ela: lab-4 joined/)];
    const lockWaits = steps.filter((x) => /^ela: waiting for the deploy lock/.test(x.line)).length;
    t.diagnostic(`server:add: ready after ${(add.ms / 1000).toFixed(1)} s; provision ${(provision[1]! - provision[0]!).toFixed(1)} s; ` +
      `ela joined ${join[1]!.toFixed(1)} s in (lock waits seen: ${lockWaits}); joining ela took ${(join[1]! - join[0]!).toFixed(1)} s`);
    for (const x of steps) t.diagnostic(`  +${x.s.toFixed(1)}s ${x.line}`);

    // What lab-4 got of lab-1's entry: the web pool and the queue worker (--copy queues), the
    // .env in use; not the scheduler, not the migrations.
    assert.equal((await fetchPage(lab4.address, DOMAIN)).greeting, GREETING, 'the .env was copied');
    // Each release's queue:restart has the worker exit and supervisor start it again (STARTING
    // for a second): RUNNING is waited for.
    const running = await waitFor(async () => (/^ela-default\S*\s+RUNNING/m.test(await onHost(lab4, 'supervisorctl status || true')) ? true : undefined), { timeoutMs: 30_000, intervalMs: 500 });
    assert.ok(running, `the queue worker runs on lab-4:\n${await onHost(lab4, 'supervisorctl status || true')}`);
    assert.equal((await onHost(lab4, 'test -e /etc/cron.d/flight-ela-scheduler && echo yes || echo no')).trim(), 'no', 'no scheduler on lab-4');
    assert.equal((await onHost(lab4, 'test -e /home/ela/shared/storage/logs/migrate.log && echo yes || echo no')).trim(), 'no', 'no migrations ran on lab-4');
    assert.match(await onHost(lab1, 'cat /home/ela/shared/storage/logs/migrate.log'), /./, 'migrations ran on lab-1');
    const state = fs.readFileSync(path.join(lab.defs.dir, 'clusters', 'lab.servers.yml'), 'utf8');
    assert.match(state, /status: ready/);
    assert.match(state, /ela:\n\s+joined: true/);

    // A later release of the loop reaches lab-4.
    const later = await waitFor(async () => attempts.find((a) => a.start > readyAt && a.outcome === 'ok'), { timeoutMs: 5 * 60_000, intervalMs: 500 });
    assert.ok(later, 'a release after ready succeeded');
    assert.ok(later.hosts.includes('lab-4'), `the release after ready touched lab-4: ${later.hosts.join(', ')}`);
    stop = true;
    await loop;
    const last = attempts.filter((a) => a.outcome === 'ok').at(-1)!;
    assert.deepEqual(await served(lab.servers), Object.fromEntries(lab.servers.map((s) => [s.name, last.sha])), 'all four serve the last release');

    // Such a release is refused once it holds the lock, before it changes anything.
    const staleRun = await flight(['app:release', APP, shas[4]!, '--defs', stale.dir]);
    assert.equal(staleRun.code, 2, describeRun(staleRun));
    assert.match(failures(staleRun).join('\n'), /server 'lab-4' joined this app at .* this run's definitions do not list it/);
    assert.deepEqual(await served(lab.servers), Object.fromEntries(lab.servers.map((s) => [s.name, last.sha])), 'the refused release switched nothing');

    const count = (o: Attempt['outcome']) => attempts.filter((a) => a.outcome === o).length;
    t.diagnostic(`release loop: ${attempts.length} runs: ${count('ok')} released, ${count('lock')} found the deploy lock held, ` +
      `${count('stale')} refused for definitions read before lab-4 joined, ${count('other')} other failures`);
    const other = attempts.filter((a) => a.outcome === 'other');
    assert.deepEqual(other.map((a) => a.detail), [], 'no release failed for another reason');
    assert.ok(attempts.filter((a) => a.outcome === 'ok' && a.start > readyAt).every((a) => a.hosts.includes('lab-4')), 'every release begun after ready included lab-4');
  } finally {
    stop = true;
    await loop;
  }

  // Remove: the worker stops, the record goes, and the next release leaves lab-4 alone.
  const before = (await fetchPage(lab4.address, DOMAIN)).sha!;
  const listing = lab.defs.copy();
  t.after(() => listing.cleanup());
  const remove = await flight(['server:remove', 'lab', 'lab-4', ...D], { json: false });
  assert.equal(remove.code, 0, describeRun(remove));
  assert.equal(remove.stdout.trimEnd().split('\n').at(-1), 'removed: lab-4');
  t.diagnostic(`server:remove: ${(remove.ms / 1000).toFixed(1)} s`);
  assert.ok(!fs.existsSync(path.join(lab.defs.dir, 'clusters', 'lab.servers.yml')), 'the state file went with its last server');
  assert.doesNotMatch(await onHost(lab4, 'supervisorctl status || true'), /^ela-default/m, 'the worker is gone from lab-4');
  // Definitions read before the remove still list lab-4: a release with them is refused.
  const late = await flight(['app:release', APP, shas[4]!, '--defs', listing.dir]);
  assert.equal(late.code, 2, describeRun(late));
  assert.match(failures(late).join('\n'), /server 'lab-4' left this app at .* still list it/);
  const next = shas.find((sha) => sha !== before)!;
  const release = await flight(['app:release', APP, next, ...D]);
  assert.equal(release.code, 0, describeRun(release));
  assert.deepEqual(Object.keys(release.recap!.hosts).filter((h) => h !== 'localhost').sort(), ['lab-1', 'lab-2', 'lab-3'], 'the release touched lab-1..3 only');
  assert.equal((await fetchPage(lab4.address, DOMAIN)).sha, before, 'lab-4 still serves what it served');
  assert.equal((await fetchPage(lab1.address, DOMAIN)).sha, next);
});
