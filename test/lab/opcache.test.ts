/**
 * OPcache in the lab, through the app's own PHP-FPM pool (never the command line's cache):
 *
 * 1. The release's warm-up step compiles the new release into PHP-FPM's OPcache before the
 *    switch: right after the release, before any request, the pool's cache holds scripts of the
 *    new release on every web server. Without the warm-up it holds none until a request comes.
 * 2. With release_strategy `alternate`, the warm-up finds the files that did not change already
 *    cached (the idle directory served two releases ago) and compiles only the rest.
 * 3. opcache-reload.yml skips a server below the threshold and reloads one at or above it;
 *    in check mode it reloads nothing and leaves nothing behind.
 *
 * The app is `opc` (domain opc.flight.test) on lab-1 and lab-2 of the default lab, in a
 * definitions folder of its own that holds no other app. No health check: its request would
 * compile the page before the test looks. The worker script Flight sends to the pool must never
 * be left in the app's home.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { describeRun, failures, flight, hostResults, type FlightRun } from '../../lab-kit/cli.js';
import { makeDefs, type TempDefs } from '../../lab-kit/defs.js';
import { fetchPage } from '../../lab-kit/http.js';
import { makeFixtureRepo, type FixtureRepo } from '../../lab-kit/repos.js';
import type { LabServer } from '../../lab-kit/ssh.js';
import { assertOk } from '../support/flight.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const APP = 'opc';
const DOMAIN = 'opc.flight.test';
const WEB = ['lab-1', 'lab-2'];
const HOME = `/home/${APP}`;

const server = (name: string): LabServer => {
  const s = servers?.find((x) => x.name === name);
  if (!s) throw new Error(`no lab server ${name}`);
  return s;
};

let defs: TempDefs;
let repo: FixtureRepo;

function writeApp(extra: Record<string, unknown>): void {
  const j = JSON.stringify;
  const lines = [
    `repo: ${j(repo.dir)}`,
    'cluster: lab',
    'php: "8.2"',
    `domain: ${j(DOMAIN)}`,
    `release_commands: ${j(['artisan config:cache'])}`,
    `shared: ${j(['storage/framework/cache', 'storage/logs', '.env'])}`,
    ...Object.entries(extra).map(([k, v]) => `${k}: ${j(v)}`),
    'servers:',
    ...WEB.map((s) => `  - name: ${s}`),
  ];
  fs.writeFileSync(defs.appFile(APP), `${lines.join('\n')}\n`);
}

/** The pool's OPcache as the module reads it, with scripts and bytes per release folder. */
interface PoolCache {
  groups: Record<string, { scripts: number; bytes: number }>;
  start_time: number;
  used_percent: number;
}

const STATUS_PLAYBOOK = `- name: OPcache of the opc pool
  hosts: app_opc
  become: true
  tasks:
    - name: Read
      fpm_opcache:
        action: status
        socket: /run/php/opc.sock
        php: "8.2"
        dir: /home/opc/.flight
        group: opc
        group_under: /home/opc/releases
      register: st
    - name: Show
      debug:
        msg: "{{ {'groups': st.groups, 'start_time': st.opcache.start_time, 'used_percent': st.used_percent} | to_json }}"
`;

async function poolCaches(): Promise<Record<string, PoolCache>> {
  const file = path.join(defs.dir, 'opc-status.yml');
  fs.writeFileSync(file, STATUS_PLAYBOOK);
  const run = await flight([file, '--defs', defs.dir], { bin: 'flight-play' });
  assertOk(run);
  const out: Record<string, PoolCache> = {};
  for (const e of hostResults(run, { task: 'Show' })) out[e.host] = JSON.parse(e.msg!) as PoolCache;
  assert.deepEqual(Object.keys(out).sort(), WEB);
  return out;
}

async function currentRelease(s: LabServer): Promise<string> {
  return (await onHost(s, `readlink ${HOME}/current`)).trim().split('/').pop()!;
}

async function release(sha: string): Promise<FlightRun> {
  const run = await flight(['app:release', APP, sha, '--defs', defs.dir]);
  assertOk(run);
  return run;
}

/** No worker script left in the app's home, on any web server. */
async function assertNoWorkerLeft(): Promise<void> {
  for (const name of WEB) {
    const left = await onHost(server(name), `find ${HOME} -name '.flight-opcache-*' 2>/dev/null`);
    assert.equal(left.trim(), '', `${name}: the worker script was left behind`);
  }
}

const WARM_MSG = /^compiled (\d+) PHP files? into OPcache \((\d+\.\d) MB\) in [\d.]+ s(, (\d+) already cached)?/;

before(async () => {
  if (skip) return;
  defs = await makeDefs();
  // Only this test's app: the opcache-reload playbook asks an app's pool on each server, and
  // nothing here may touch another app.
  for (const f of fs.readdirSync(path.join(defs.dir, 'apps'))) fs.rmSync(path.join(defs.dir, 'apps', f));
  // The stand-in app: a small, known set of PHP files whose counts the assertions read;
  // the Laravel app's releases are proven by the workflows and zero-downtime tests.
  repo = makeFixtureRepo();
  writeApp({ opcache_warmup: true });
  assertOk(await flight(['provision', 'lab', '--defs', defs.dir], { timeoutMs: 20 * 60_000 }));
  assertOk(await flight(['app:configure', APP, '--defs', defs.dir]));
  // OPcache's memory is one per PHP-FPM master, shared by every app's pool: an earlier use of the
  // lab (other apps' releases) may have filled it, and a full cache is what the warm-up rightly
  // refuses to fill further. Start from an empty one.
  for (const name of WEB) await onHost(server(name), 'service php8.2-fpm restart >/dev/null');
});

after(() => {
  defs?.cleanup();
  repo?.cleanup();
});

test('the warm-up compiles the new release into the pool\'s OPcache before the switch', { skip, timeout: 10 * 60_000 }, async () => {
  // A first release, so the next one has a serving release whose hot files go first.
  await release(repo.head());
  await fetchPage(server('lab-1').address, DOMAIN);

  const sha = repo.commit('warm');
  const run = await release(sha);
  const warm = hostResults(run, { task: 'Warm up OPcache with the new release' });
  assert.deepEqual(warm.map((e) => e.host).sort(), WEB, 'the warm-up runs on every web server');
  for (const e of warm) {
    assert.equal(e.status, 'changed', `${e.host}: ${e.msg}`);
    const m = WARM_MSG.exec(e.msg ?? '');
    assert.ok(m, `${e.host}: the message says how many files and how much memory: ${e.msg}`);
    assert.ok(Number(m[1]) >= 10, `${e.host}: the fixture's PHP files and composer's autoloader: ${e.msg}`);
  }

  // Right after the switch, before any request: the new release is in the pool's cache.
  const caches = await poolCaches();
  for (const name of WEB) {
    const id = await currentRelease(server(name));
    const group = caches[name]!.groups[id];
    assert.ok(group && group.scripts >= 10, `${name}: scripts of ${id} in OPcache: ${JSON.stringify(caches[name]!.groups)}`);
    assert.ok(group.bytes > 0);
  }
  const page = await fetchPage(server('lab-1').address, DOMAIN);
  assert.equal(page.sha, sha);
  await assertNoWorkerLeft();

  // Without the warm-up, the next release has nothing in the cache until a request comes.
  writeApp({ opcache_warmup: false });
  const cold = repo.commit('cold');
  const coldRun = await release(cold);
  assert.ok(hostResults(coldRun, { task: 'Warm up OPcache with the new release' }).every((e) => e.status === 'skipped'));
  const coldCaches = await poolCaches();
  const coldId = await currentRelease(server('lab-2'));
  assert.equal(coldCaches['lab-2']!.groups[coldId]?.scripts ?? 0, 0, `lab-2: nothing of ${coldId} cached before a request`);
  await fetchPage(server('lab-2').address, DOMAIN);
  const afterRequest = await poolCaches();
  assert.ok((afterRequest['lab-2']!.groups[coldId]?.scripts ?? 0) > 0, 'a request caches what it loads (the status read sees it)');
});

test('alternate strategy: the warm-up finds unchanged files of the idle directory already cached', { skip, timeout: 10 * 60_000 }, async () => {
  writeApp({ opcache_warmup: true, release_strategy: 'alternate' });
  // A, then B, then A again: the third release's directory served two releases ago, and only
  // app/version.php (and what the release commands rewrite) changed since. Other tests share
  // the lab's PHP-FPM and may reload it (a pool of theirs changed), which empties the cache:
  // then two more releases, until one pair ran without a reload in between.
  let last: FlightRun | undefined;
  for (let attempt = 0; attempt < 3 && !last; attempt++) {
    const before = await poolCaches();
    if (attempt === 0) await release(repo.commit('alt-a'));
    await release(repo.commit(`alt-b${attempt}`));
    const run = await release(repo.commit(`alt-c${attempt}`));
    const now = await poolCaches();
    if (WEB.every((h) => now[h]!.start_time === before[h]!.start_time)) last = run;
  }
  assert.ok(last, 'PHP-FPM was reloaded by something else during every attempt');
  const third = hostResults(last, { task: 'Warm up OPcache with the new release' });
  for (const e of third) {
    const m = WARM_MSG.exec(e.msg ?? '');
    assert.ok(m, `${e.host}: ${e.msg}`);
    assert.ok(Number(m[4] ?? 0) >= 5, `${e.host}: unchanged files were already cached: ${e.msg}`);
    assert.ok(Number(m[1]) >= 1 && Number(m[1]) < Number(m[4]), `${e.host}: only changed files compiled: ${e.msg}`);
  }
  const caches = await poolCaches();
  for (const name of WEB) {
    assert.equal(await currentRelease(server(name)), 'A');
    assert.ok((caches[name]!.groups.A?.scripts ?? 0) >= 10, `${name}: ${JSON.stringify(caches[name]!.groups)}`);
  }
  await assertNoWorkerLeft();
});

test('opcache-reload: skips a server under the threshold, reloads one at or above; check mode changes nothing', { skip, timeout: 10 * 60_000 }, async () => {
  const lab1 = server('lab-1');
  const TASK = /^Reload PHP-FPM where OPcache is at least \d+% full$/;
  const reloadRun = (threshold: number, check = false) =>
    flight(['opcache-reload', '-e', `threshold=${threshold}`, '--limit', 'lab-1', '--defs', defs.dir, ...(check ? ['--check'] : [])], { bin: 'flight-play' });
  const result = (run: FlightRun) => {
    const r = hostResults(run).filter((e) => TASK.test(e.task));
    assert.equal(r.length, 1, describeRun(run));
    assert.equal(r[0]!.host, 'lab-1');
    return r[0]!;
  };
  // Files only: the status read that check mode does make (a worker script, there for the length
  // of one request) touches the .flight folder's mtime, and nothing else.
  const fpmConf = 'find /etc/php/8.2/fpm -type f -printf "%p %s %T@\\n" | sort; find /home/opc -path /home/opc/shared -prune -o -type f -printf "%p %s %T@\\n" | sort';
  const startTime = async () => (await poolCaches())['lab-1']!.start_time;

  const t0 = await startTime();
  const state0 = await onHost(lab1, fpmConf);

  // 100%: only a full cache would be reloaded.
  const high = await reloadRun(100);
  assertOk(high);
  const skipped = result(high);
  assert.equal(skipped.status, 'skipped', skipped.msg);
  assert.match(skipped.msg ?? '', /^PHP 8\.2: OPcache [\d.]+% \(.+\) is under the 100% threshold: not reloaded$/);
  assert.equal(await startTime(), t0, 'not reloaded: the cache is the same one');

  // Check mode at 0%: says it would reload, and does not.
  const check = await reloadRun(0, true);
  assertOk(check);
  const would = result(check);
  assert.equal(would.status, 'changed');
  assert.match(would.msg ?? '', /is at or above the 0% threshold: would reload php8\.2-fpm/);
  assert.equal(await startTime(), t0, 'check mode reloads nothing');
  assert.equal(await onHost(lab1, fpmConf), state0, 'check mode leaves every file as it was');

  // 0%: reloaded, gracefully, and the cache starts afresh.
  const low = await reloadRun(0);
  assertOk(low);
  const reloaded = result(low);
  assert.equal(reloaded.status, 'changed', reloaded.msg);
  assert.match(reloaded.msg ?? '', /is at or above the 0% threshold: reloaded php8\.2-fpm/);
  assert.deepEqual(failures(low), []);
  const t1 = await startTime();
  assert.ok(t1 > t0, `a new cache after the reload (start_time ${t0} -> ${t1})`);
  // The app still answers from the release it was serving.
  const page = await fetchPage(lab1.address, DOMAIN);
  assert.equal(page.release, await currentRelease(lab1));
  await assertNoWorkerLeft();
});
