/**
 * `flight serve` end to end: the real server (the `flight serve` command, on loopback, a random
 * port, a temp data dir) deploying two apps of its own, srv1 and srv2, into the default lab
 * through its HTTP API, with every claim about the servers checked through nginx or the system
 * ssh client. Also: the hostile cases against the real server, and a loop of malformed requests
 * that must leave it up with its memory flat.
 *
 * Slow and failing releases come from the commits themselves: the apps' release commands sleep
 * for the seconds in a SLOW file and fail when a FAIL file exists, and a BROKEN file makes the
 * page answer 500 (the health check still passes), so one app definition serves every case.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { describeRun, flight, FLIGHT_BIN } from '../../lab-kit/cli.js';
import { makeDefs, type TempDefs } from '../../lab-kit/defs.js';
import { fetchPage, httpGet, waitFor } from '../../lab-kit/http.js';
import { makeFixtureRepo, type FixtureRepo } from '../../lab-kit/repos.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { ensureLab, labSkipReason } from '../support/lab.js';
import { call, openSocket, rawRequest, type Reply } from '../support/serve.js';
import { signBody } from '../../src/serve/github.js';
import type net from 'node:net';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const APPS = ['srv1', 'srv2'] as const;
const WEB = ['lab-1', 'lab-2'];
const domain = (app: string) => `${app}.flight.test`;
const ROLLBACK_WINDOW = { srv1: 600, srv2: 5 } as const;
const server = (name: string): LabServer => servers!.find((s) => s.name === name)!;

let defs: TempDefs;
let repo: FixtureRepo;
let dataDir: string;
const tokens: Record<string, string> = {};
/** srv1's GitHub webhook secret (flight.yml reads it from the environment of `flight serve`). */
const HOOK_SECRET = `soak-hook-${process.pid}`;

function appYaml(app: string, repoDir: string): string {
  return [
    `repo: ${JSON.stringify(repoDir)}`,
    'cluster: lab',
    'php: "8.2"',
    `domain: ${domain(app)}`,
    'release_commands:',
    '  - artisan config:cache',
    // Slow or failing on purpose, decided by the commit being released.
    `  - '[ ! -f SLOW ] || sleep "$(cat SLOW)"'`,
    '  - artisan fail --if-exists=FAIL --message="this commit fails on purpose"',
    'shared: [storage/app/public, storage/framework/sessions, .env]',
    'health_check: { path: /health, status: 200, timeout: 5 }',
    // srv1 can be rolled back for ten minutes after a release, srv2 for a few seconds only.
    `auto_rollback: { error_rate: 0.05, window: ${ROLLBACK_WINDOW[app as (typeof APPS)[number]]} }`,
    'servers:',
    ...WEB.map((s) => `  - name: ${s}`),
    '',
  ].join('\n');
}

/** A commit of the fixture with SLOW (seconds), FAIL or BROKEN set as asked, the others removed. */
function commit(label: string, o: { slow?: number; fail?: boolean; broken?: boolean } = {}): string {
  for (const f of ['SLOW', 'FAIL', 'BROKEN']) fs.rmSync(path.join(repo.dir, f), { force: true });
  const files: Record<string, string> = {};
  if (o.slow) files.SLOW = `${o.slow}\n`;
  if (o.fail) files.FAIL = 'yes\n';
  if (o.broken) files.BROKEN = 'yes\n';
  return repo.commit(label, files);
}

interface Serve {
  proc: ChildProcess;
  base: string;
  out: string[];
  exited: Promise<number | null>;
}

/** Every server a test started: after() kills any that a failed test left running. */
const started: Serve[] = [];

/** `flight serve` as a child process on 127.0.0.1, any free port; resolves once it listens. */
async function startServe(): Promise<Serve> {
  const proc = spawn(process.execPath, [FLIGHT_BIN, 'serve', '--defs', defs.dir, '--data', dataDir, '--port', '0', '--drain-timeout', '120'], {
    env: { ...process.env, CI: '1', FORCE_COLOR: '0', FLIGHT_TEST_SRV1_HOOK: HOOK_SECRET },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const onData = (b: Buffer) => {
      buf += b.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        out.push(l);
        const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(l);
        if (m) resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (b: Buffer) => out.push(b.toString('utf8')));
    void exited.then((code) => reject(new Error(`flight serve exited with ${code}:\n${out.join('\n')}`)));
    setTimeout(() => reject(new Error(`flight serve did not start:\n${out.join('\n')}`)), 30_000);
  });
  const serve = { proc, base, out, exited };
  started.push(serve);
  return serve;
}

/** Follow a deploy's log as it streams; resolves with the text so far once it matches. */
function watchLog(s: Serve, app: string, id: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: new URL(s.base).port, path: `/apps/${app}/deploys/${id}/log`, headers: { Authorization: `Bearer ${tokens[app]}` }, agent: false }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => {
        text += b.toString('utf8');
        if (pattern.test(text)) {
          clearTimeout(timer);
          req.destroy();
          resolve(text);
        }
      });
      res.on('end', () => reject(new Error(`the log ended without ${pattern}:\n${text}`)));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no ${pattern} in the log after ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function stopServe(s: Serve, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill(signal);
  return s.exited;
}

const post = (s: Serve, app: string, sha: string, wait = false): Promise<Reply> =>
  call(s.base, 'POST', `/apps/${app}/deploys${wait ? '?wait=1' : ''}`, { token: tokens[app], body: { sha }, timeoutMs: 10 * 60_000 });
const status = (s: Serve, app: string, id: string): Promise<Reply> => call(s.base, 'GET', `/apps/${app}/deploys/${id}`, { token: tokens[app] });

/** Poll a deploy until it reaches a final state. */
async function finalState(s: Serve, app: string, id: string, timeoutMs = 5 * 60_000): Promise<any> {
  const rec = await waitFor(async () => {
    const r = await status(s, app, id);
    return ['queued', 'running'].includes(r.json?.state) ? undefined : r.json;
  }, { timeoutMs, intervalMs: 500 });
  assert.ok(rec, `deploy ${id} of ${app} did not end in ${timeoutMs / 1000} s`);
  return rec;
}

async function assertServing(app: string, sha: string): Promise<void> {
  for (const name of WEB) {
    const page = await fetchPage(server(name).address, domain(app));
    assert.equal(page.sha, sha, `${name} (Host: ${domain(app)}) serves ${sha}: ${JSON.stringify(page)}`);
  }
}

const describeDeploy = (r: Reply) => `${r.status} ${JSON.stringify(r.json, null, 1)}`;

before(async () => {
  if (skip) return;
  // The stand-in app: its release commands sleep or fail on demand (SLOW, FAIL files in a commit)
  // and a BROKEN commit answers 500, which the queue and automatic-rollback tests need.
  repo = makeFixtureRepo();
  defs = await makeDefs();
  for (const app of APPS) fs.writeFileSync(defs.appFile(app), appYaml(app, repo.dir));
  fs.appendFileSync(path.join(defs.dir, 'flight.yml'), '\nserve:\n  github:\n    srv1: { secret_env: FLIGHT_TEST_SRV1_HOOK }\n');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-serve-data-'));
  const prov = await flight(['provision', 'lab', '--defs', defs.dir]);
  assert.equal(prov.code, 0, describeRun(prov));
  for (const app of APPS) {
    const conf = await flight(['app:configure', app, '--defs', defs.dir]);
    assert.equal(conf.code, 0, describeRun(conf));
    const t = await flight(['token:create', app, '--defs', defs.dir, '--data', dataDir], { json: false });
    assert.equal(t.code, 0, t.stderr);
    tokens[app] = t.stdout.trim();
    assert.match(tokens[app]!, /^flt_/);
  }
  const stored = fs.readFileSync(path.join(dataDir, 'tokens.json'), 'utf8');
  for (const t of Object.values(tokens)) assert.ok(!stored.includes(t), 'only hashes are stored');
  assert.equal(fs.statSync(path.join(dataDir, 'tokens.json')).mode & 0o777, 0o600);
});

after(async () => {
  if (skip) return;
  for (const s of started) await stopServe(s, 'SIGKILL');
  defs?.cleanup();
  repo?.cleanup();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a deploy through the API updates the page; status and log tell what happened', { skip }, async () => {
  const s = await startServe();
  try {
    const sha = commit('api-1');
    const r = await post(s, 'srv1', sha);
    assert.equal(r.status, 202, describeDeploy(r));
    assert.equal(r.json.state, 'running');
    // Follow the log while the deploy runs: the response ends when the deploy does.
    const log = await call(s.base, 'GET', r.json.urls.log, { token: tokens.srv1, timeoutMs: 5 * 60_000 });
    assert.equal(log.status, 200);
    assert.match(log.text, /TASK \[Switch to the new release\]/);
    assert.match(log.text, /succeeded at /);
    const rec = await finalState(s, 'srv1', r.json.id);
    assert.equal(rec.state, 'succeeded', JSON.stringify(rec));
    assert.deepEqual(Object.keys(rec.servers).sort(), WEB);
    for (const w of WEB) assert.equal(rec.servers[w].failed, 0);
    assert.ok(Date.parse(rec.finished_at) >= Date.parse(rec.started_at));
    await assertServing('srv1', sha);
    // The page is served from the release the deploy made, under the lock of its run.
    const info = await sshRun(server('lab-1'), 'tail -n1 /home/srv1/.flight/releases.log');
    assert.match(info.stdout, new RegExp(`${sha}.*flight-serve@.*deploy ${r.json.id}.*ok`));
    assert.ok(!s.out.join('\n').includes(tokens.srv1!), 'the token is never logged');
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

test('two quick requests for one app run one after the other; a newer one supersedes a waiting one', { skip }, async () => {
  const s = await startServe();
  try {
    const a = commit('queue-a', { slow: 6 });
    const b = commit('queue-b');
    const c = commit('queue-c');
    const ra = await post(s, 'srv1', a);
    const rb = await post(s, 'srv1', b);
    const rc = await post(s, 'srv1', c);
    assert.deepEqual([ra.json.state, rb.json.state, rc.json.state], ['running', 'queued', 'queued']);
    const recB = (await status(s, 'srv1', rb.json.id)).json;
    assert.equal(recB.state, 'superseded');
    assert.equal(recB.superseded_by, rc.json.id);
    assert.equal(recB.started_at, undefined, 'the superseded deploy never started');
    const recA = await finalState(s, 'srv1', ra.json.id);
    const recC = await finalState(s, 'srv1', rc.json.id);
    assert.equal(recA.state, 'succeeded', JSON.stringify(recA));
    assert.equal(recC.state, 'succeeded', JSON.stringify(recC));
    assert.ok(Date.parse(recC.started_at) >= Date.parse(recA.finished_at), 'one after the other');
    await assertServing('srv1', c);
    const log = await call(s.base, 'GET', rb.json.urls.log, { token: tokens.srv1 });
    assert.match(log.text, new RegExp(`superseded by deploy ${rc.json.id}`));
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

test('two apps deploy in parallel', { skip }, async () => {
  const s = await startServe();
  try {
    const sha = commit('parallel', { slow: 5 });
    const [r1, r2] = await Promise.all([post(s, 'srv1', sha), post(s, 'srv2', sha)]);
    assert.equal(r1.json.state, 'running');
    assert.equal(r2.json.state, 'running');
    const [d1, d2] = await Promise.all([finalState(s, 'srv1', r1.json.id), finalState(s, 'srv2', r2.json.id)]);
    assert.equal(d1.state, 'succeeded', JSON.stringify(d1));
    assert.equal(d2.state, 'succeeded', JSON.stringify(d2));
    const overlap = Math.min(Date.parse(d1.finished_at), Date.parse(d2.finished_at)) - Math.max(Date.parse(d1.started_at), Date.parse(d2.started_at));
    assert.ok(overlap > 4000, `the two deploys overlapped by ${overlap} ms`);
    await assertServing('srv1', sha);
    await assertServing('srv2', sha);
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

test('wait=1 holds the answer: 200 for a good release, a failure status for a failing one', { skip }, async () => {
  const s = await startServe();
  try {
    const good = commit('wait-good');
    const ok = await post(s, 'srv2', good, true);
    assert.equal(ok.status, 200, describeDeploy(ok));
    assert.equal(ok.json.state, 'succeeded');
    await assertServing('srv2', good);
    const bad = commit('wait-bad', { fail: true });
    const r = await post(s, 'srv2', bad, true);
    assert.equal(r.status, 502, describeDeploy(r));
    assert.equal(r.json.state, 'failed');
    assert.match(r.json.error, /this commit fails on purpose|Release commands/);
    assert.ok(Object.values(r.json.servers).some((x: any) => x.status === 'failed'), JSON.stringify(r.json.servers));
    await assertServing('srv2', good);
    // A commit the repository does not have fails on this machine (the archive task, run for the
    // first server), before any server is touched: the other is `not reached`, never `ok`.
    const missing = await post(s, 'srv2', 'deadbeefdeadbeef', true);
    assert.equal(missing.status, 502, describeDeploy(missing));
    assert.match(missing.json.error, /not a commit of/);
    assert.deepEqual(Object.fromEntries(Object.entries(missing.json.servers).map(([k, v]: [string, any]) => [k, v.status])), { 'lab-1': 'failed', 'lab-2': 'not reached' });
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

/** What monitoring would see: the share of failing page requests to the app's web servers. */
async function errorRate(app: string, perServer = 10): Promise<{ errors: number; requests: number }> {
  let errors = 0;
  for (const name of WEB) {
    for (let i = 0; i < perServer; i++) if ((await httpGet(server(name).address, domain(app))).status >= 500) errors++;
  }
  return { errors, requests: WEB.length * perServer };
}

test('a release whose page answers 500 is rolled back on the error-rate signal, and its commit refused until forced', { skip }, async () => {
  const t = await flight(['token:create', 'srv1', '--signal', '--defs', defs.dir, '--data', dataDir], { json: false });
  assert.equal(t.code, 0, t.stderr);
  const signalToken = t.stdout.trim();
  const s = await startServe();
  try {
    const good = commit('rollback-good');
    const bad = commit('rollback-bad', { broken: true });
    for (const sha of [good, bad]) {
      const r = await post(s, 'srv1', sha, true);
      assert.equal(r.status, 200, describeDeploy(r));
    }
    const seen = await errorRate('srv1');
    assert.equal(seen.errors, seen.requests, `the broken release fails every page: ${JSON.stringify(seen)}`);
    const hit = await call(s.base, 'POST', '/apps/srv1/signals?wait=1', { token: signalToken, body: { ...seen, sha: bad }, timeoutMs: 5 * 60_000 });
    assert.equal(hit.status, 200, describeDeploy(hit));
    assert.equal(hit.json.action, 'rollback');
    assert.match(hit.json.reason, /error rate 100% over 20 requests passed the 5\.0% threshold/);
    assert.equal(hit.json.rollback.state, 'succeeded', describeDeploy(hit));
    await assertServing('srv1', good);
    assert.deepEqual(await errorRate('srv1'), { errors: 0, requests: 20 });
    // The servers' release log says who rolled back and why it was done.
    for (const name of WEB) {
      const log = await sshRun(server(name), 'tail -n1 /home/srv1/.flight/releases.log');
      assert.match(log.stdout, new RegExp(`\t${good}\t.*rollback ${hit.json.rollback.id} of deploy ${hit.json.rollback.rollback_of}\\)\trollback$`, 'm'), `${name}: ${log.stdout}`);
    }
    const again = await post(s, 'srv1', bad);
    assert.equal(again.status, 409, describeDeploy(again));
    assert.match(again.json.error, /was rolled back automatically at .*error rate 100%.*; send "force": true/);
    const once = await call(s.base, 'POST', '/apps/srv1/signals', { token: signalToken, body: seen });
    assert.deepEqual([once.status, once.json.action], [200, 'none'], describeDeploy(once));
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

test('a signal after the window leaves the release alone; a rollback guarded by another commit switches nothing', { skip }, async () => {
  const s = await startServe();
  try {
    const good = commit('window-good');
    const bad = commit('window-bad', { broken: true });
    let last: Reply | undefined;
    for (const sha of [good, bad]) {
      last = await post(s, 'srv2', sha, true);
      assert.equal(last.status, 200, describeDeploy(last));
    }
    const wait = Date.parse(last!.json.finished_at) + (ROLLBACK_WINDOW.srv2 + 1.5) * 1000 - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const late = await call(s.base, 'POST', '/apps/srv2/signals', { token: tokens.srv2, body: await errorRate('srv2') });
    assert.deepEqual([late.status, late.json.action], [200, 'none'], describeDeploy(late));
    assert.match(late.json.reason, new RegExp(`ended \\d+ s ago, outside the ${ROLLBACK_WINDOW.srv2} s window`));
    assert.equal((await errorRate('srv2')).errors, 20, 'still the broken release');
    // The guard automatic rollbacks use: a rollback of a commit the servers no longer serve stops before switching.
    const guarded = await flight(['rollback', '-e', 'app=srv2', '-e', `from_sha=${good}`, '--defs', defs.dir], { bin: 'flight-play' });
    assert.notEqual(guarded.code, 0, describeRun(guarded));
    assert.match(describeRun(guarded), new RegExp(`serves ${bad}, not ${good}: it was released again since; nothing is rolled back`));
    assert.equal((await errorRate('srv2')).errors, 20, 'nothing was switched');
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

test('restart: history survives; a deploy running when the server died is interrupted, and the next one takes over its lock', { skip }, async () => {
  let s = await startServe();
  const slow = commit('killed', { slow: 30 });
  const r = await post(s, 'srv1', slow);
  assert.equal(r.status, 202);
  // Wait (following the live log) until the release commands run: the lock is taken by then.
  await watchLog(s, 'srv1', r.json.id, /TASK \[Release commands\]/, 180_000);
  const runId = (await status(s, 'srv1', r.json.id)).json.run_id;
  const locks = await Promise.all(WEB.map((w) => sshRun(server(w), 'cat /home/srv1/.flight/deploy.lock/info 2>/dev/null')));
  assert.ok(locks.some((l) => new RegExp(`^run=${runId}$`, 'm').test(l.stdout)), `the lock is held by the deploy's run ${runId}: ${locks.map((l) => l.stdout).join(' | ')}`);
  const historyBefore = (await call(s.base, 'GET', '/apps/srv1/deploys?limit=200', { token: tokens.srv1 })).json.deploys.length;
  await stopServe(s, 'SIGKILL');

  s = await startServe();
  try {
    assert.ok(s.out.some((l) => l.includes(`deploy ${r.json.id}`) && l.includes('interrupted')), s.out.join('\n'));
    const rec = (await status(s, 'srv1', r.json.id)).json;
    assert.equal(rec.state, 'interrupted');
    const list = (await call(s.base, 'GET', '/apps/srv1/deploys?limit=200', { token: tokens.srv1 })).json.deploys;
    assert.equal(list.length, historyBefore, 'every earlier deploy is still in the history');
    // The interrupted run's lock is still on the server; the next deploy takes it over.
    const sha = commit('after-restart');
    const next = await post(s, 'srv1', sha, true);
    assert.equal(next.status, 200, describeDeploy(next));
    assert.equal(next.json.took_over, r.json.id);
    assert.equal(next.json.run_id, runId);
    await assertServing('srv1', sha);
    for (const w of WEB) {
      const gone = await sshRun(server(w), 'test -e /home/srv1/.flight/deploy.lock && echo held || echo free');
      assert.equal(gone.stdout.trim(), 'free', `${w}: the lock was released`);
    }
  } finally {
    assert.equal(await stopServe(s), 0);
  }
});

test('a lock held by someone else still stops a deploy after an interrupted one', { skip }, async () => {
  // The rule is narrow: only the interrupted run's own lock is taken over.
  const s = await startServe();
  try {
    // On both servers: the lock lives on whichever the play runs run_once tasks on.
    for (const w of WEB) await sshRun(server(w), "mkdir -p /home/srv2/.flight/deploy.lock && printf 'run=someoneelse\\nwho=ann@laptop\\n' > /home/srv2/.flight/deploy.lock/info");
    const r = await post(s, 'srv2', commit('locked-out'), true);
    assert.equal(r.status, 502, describeDeploy(r));
    assert.match(r.json.error, /another deploy holds the lock: ann@laptop/);
  } finally {
    for (const w of WEB) await sshRun(server(w), 'rm -rf /home/srv2/.flight/deploy.lock');
    assert.equal(await stopServe(s), 0);
  }
});

test('SIGTERM: stops taking requests, lets the running deploy finish, exits 0', { skip }, async () => {
  const s = await startServe();
  const sha = commit('drained', { slow: 4 });
  const r = await post(s, 'srv2', sha);
  const held = post(s, 'srv2', sha, true).catch((e: Error) => e);
  // SIGTERM once the second request waits behind the first.
  const queued = await waitFor(async () => ((await call(s.base, 'GET', '/healthz')).json.waiting === 1 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
  assert.ok(queued, 'the second request is waiting');
  s.proc.kill('SIGTERM');
  // It closes its listener at once; on a busy machine "at once" may take a moment.
  const refused = await waitFor(() => call(s.base, 'GET', '/healthz').then(() => undefined, (e: unknown) => (/ECONNREFUSED/.test(String(e)) ? true : undefined)), { timeoutMs: 10_000, intervalMs: 100 });
  assert.ok(refused, 'after SIGTERM the server takes no new connection');
  assert.equal(await s.exited, 0);
  const waited = await held;
  assert.ok(!(waited instanceof Error) && waited.json.state === 'cancelled' && waited.status === 503, `the waiting request was cancelled: ${waited instanceof Error ? waited.message : describeDeploy(waited)}`);
  const rec = JSON.parse(fs.readFileSync(path.join(dataDir, 'deploys', 'srv2', `${r.json.id}.json`), 'utf8'));
  assert.equal(rec.state, 'succeeded', `${JSON.stringify(rec, null, 1)}\n${fs.readFileSync(path.join(dataDir, 'deploys', 'srv2', `${r.json.id}.log`), 'utf8').slice(-3000)}`);
  await assertServing('srv2', sha);
});

test('soak: thousands of hostile requests of every kind while real releases go through the API; memory bounded, every refusal logged', { skip, timeout: 10 * 60_000 }, async () => {
  const s = await startServe();
  const slowSockets: net.Socket[] = [];
  let stop = false;
  try {
    const historyDir = path.join(dataDir, 'deploys');
    const big = Buffer.alloc(64 * 1024 + 10, 'x');
    const expect: Array<[string, () => Promise<Reply>, number]> = [
      ['over 64 KiB', () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: big }), 413],
      ['over 64 KiB, chunked', () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: big, chunked: true }), 413],
      ['bad JSON', () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: '{"sha":' }), 400],
      ['unknown app, with a valid token', () => call(s.base, 'POST', '/apps/nosuchapp/deploys', { token: tokens.srv1, body: { sha: 'abcdef1' } }), 404],
      ['unknown app, without one', () => call(s.base, 'POST', '/apps/nosuchapp/deploys', { body: { sha: 'abcdef1' } }), 401],
      ['bad sha', () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: { sha: '$(reboot)' } }), 422],
      ['missing token', () => call(s.base, 'POST', '/apps/srv1/deploys', { body: { sha: 'abcdef1' } }), 401],
      ['wrong token', () => call(s.base, 'POST', '/apps/srv1/deploys', { token: 'flt_nope', body: { sha: 'abcdef1' } }), 401],
      ["another app's token", () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv2, body: { sha: 'abcdef1' } }), 403],
    ];
    for (const [name, send, want] of expect) {
      const r = await send();
      assert.equal(r.status, want, `${name}: ${r.status} ${r.text}`);
      assert.equal(typeof r.json?.error, 'string', name);
    }

    // What the attackers replay: a signed push of the commit serving now (GitHub's body, captured).
    const serving = (await call(s.base, 'GET', '/apps/srv1/deploys?limit=50', { token: tokens.srv1 })).json.deploys.find((d: { kind: string; state: string }) => d.kind === 'release' && d.state === 'succeeded').sha as string;
    const pushBody = JSON.stringify({ ref: 'refs/heads/main', after: serving, head_commit: { id: serving }, repository: { full_name: 'acme/srv1' } });
    const signed = (event: string, body: string, delivery: string) => ({ 'X-GitHub-Event': event, 'X-Hub-Signature-256': signBody(HOOK_SECRET, body), 'X-GitHub-Delivery': delivery, 'Content-Type': 'application/json' });
    let fresh = 0;
    const kinds: Array<() => Promise<Reply>> = [
      () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: big }),
      () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: '{"sha": [1, 2' }),
      () => call(s.base, 'POST', '/apps/srv1/deploys', { token: tokens.srv1, body: { sha: 'nothex!' } }),
      () => call(s.base, 'POST', `/apps/${'x'.repeat(40)}/deploys`, { body: '{}' }),
      () => call(s.base, 'GET', '/apps/srv1/deploys/../../etc/passwd', { token: tokens.srv1 }),
      () => call(s.base, 'PUT', '/healthz', { body: 'x' }),
      () => call(s.base, 'POST', '/github', { headers: { 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': 'sha256=00' }, body: '{}' }),
      () => call(s.base, 'POST', '/apps/srv2/deploys', { token: 'flt_guess', body: { sha: 'abcdef1' } }),
      // Replays: the same delivery again, and the same body under a new delivery id.
      () => call(s.base, 'POST', '/github', { headers: signed('push', pushBody, 'soak-0000-replayed'), body: pushBody }),
      () => call(s.base, 'POST', '/github', { headers: signed('push', pushBody, `soak-${String(fresh++).padStart(8, '0')}`), body: pushBody }),
      () => rawRequest(s.base, 'NOT HTTP AT ALL\r\n\r\n'),
      () => rawRequest(s.base, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    ];
    const statuses = new Map<number, number>();
    let sent = 0;
    const hammer = async (until: () => boolean) => {
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (!until()) {
            const r = await kinds[sent++ % kinds.length]!().catch(() => ({ status: -1 }) as Reply);
            statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          }
        }),
      );
    };
    // A first round warms the server up (code paths compiled, buffers allocated); memory is
    // measured from there, so what grows after it is what requests leave behind.
    await hammer(() => sent >= 600);
    const mem0 = (await call(s.base, 'GET', '/healthz')).json.memory;
    statuses.clear();
    sent = 0;
    const logFrom = s.out.length;
    const recordsBefore = fs.readdirSync(path.join(historyDir, 'srv2')).length;

    // Slow senders and idle connections from their own addresses, held through the soak.
    const slow = 'POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{';
    for (let i = 0; i < 4; i++) slowSockets.push(await openSocket(s.base, '127.0.0.41', slow));
    for (let i = 0; i < 40; i++) slowSockets.push(await openSocket(s.base, '127.0.0.42'));

    // CI, from its own address, releases two new commits through the API while it all goes on;
    // GitHub, from another, pings.
    const t0 = Date.now();
    const noise = hammer(() => stop || Date.now() - t0 > 5 * 60_000);
    const shas = [commit('soak-1'), commit('soak-2')];
    const ci: Reply[] = [];
    for (const sha of shas) ci.push(await call(s.base, 'POST', '/apps/srv1/deploys?wait=1', { token: tokens.srv1, body: { sha }, from: '127.0.0.50', timeoutMs: 5 * 60_000 }));
    const ping = await call(s.base, 'POST', '/github', { headers: signed('ping', '{}', 'soak-ping-from-github'), body: '{}', from: '127.0.0.51' });
    while (sent < 5000 && Date.now() - t0 < 5 * 60_000) await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await noise;
    const ms = Date.now() - t0;
    for (const [i, r] of ci.entries()) assert.equal(r.status, 200, `CI's release ${i + 1} through the soak: ${describeDeploy(r)}`);
    await assertServing('srv1', shas[1]!);
    assert.equal(ping.status, 200, `GitHub's ping from its own address: ${ping.status} ${ping.text}`);

    const health = await call(s.base, 'GET', '/healthz', { from: '127.0.0.50' });
    assert.equal(health.status, 200, 'still up');
    // What stays once the garbage collector had a chance: the least of a few samples.
    const samples = [health.json.memory];
    for (let i = 0; i < 6; i++) {
      await new Promise((r) => setTimeout(r, 300));
      samples.push((await call(s.base, 'GET', '/healthz', { from: '127.0.0.50' })).json.memory);
    }
    const mem1 = { rss: Math.min(...samples.map((m) => m.rss)), heap_used: Math.min(...samples.map((m) => m.heap_used)) };
    const mb = (n: number) => (n / 1048576).toFixed(1);
    console.log(`# soak: ${sent} hostile requests in ${ms} ms beside 2 releases: ${JSON.stringify(Object.fromEntries(statuses))}; rss ${mb(mem0.rss)} -> ${mb(mem1.rss)} MiB, heapUsed ${mb(mem0.heap_used)} -> ${mb(mem1.heap_used)} MiB`);
    assert.ok(sent >= 5000, `hostile requests sent: ${sent}`);
    assert.ok((statuses.get(-1) ?? 0) < sent / 100, `requests that got no answer: ${statuses.get(-1)}`);
    for (const st of statuses.keys()) assert.ok(st === -1 || st === 200 || (st >= 400 && st < 500) || st === 503, `only refusals (and 200 for an ignored replay), got ${st}`);
    assert.ok((statuses.get(200) ?? 0) > 0, 'replays were answered 200 and ignored');
    assert.ok(mem1.heap_used - mem0.heap_used < 40 * 1048576, `heapUsed grew by ${mb(mem1.heap_used - mem0.heap_used)} MiB`);
    assert.ok(mem1.rss - mem0.rss < 96 * 1048576, `rss grew by ${mb(mem1.rss - mem0.rss)} MiB`);
    const srv1 = (await call(s.base, 'GET', '/apps/srv1/deploys?limit=50', { token: tokens.srv1 })).json.deploys.filter((d: { requested_at: string }) => Date.parse(d.requested_at) >= t0);
    assert.deepEqual(srv1.map((d: { sha: string; source: string }) => `${d.source} ${d.sha}`).sort(), shas.map((x) => `api ${x}`).sort(), "CI's two releases and nothing else: no replay started one");
    assert.equal(fs.readdirSync(path.join(historyDir, 'srv2')).length, recordsBefore, 'nothing recorded for srv2');

    // Every refusal has its line in the log (parser refusals included).
    const logged = new Map<number, number>();
    for (const line of s.out.slice(logFrom)) {
      const m = / (\d{3}) \d+ms$/.exec(line) ?? / - - (\d{3}) \(/.exec(line);
      if (m) logged.set(Number(m[1]), (logged.get(Number(m[1])) ?? 0) + 1);
    }
    for (const [st, n] of statuses) if (st >= 400) assert.ok((logged.get(st) ?? 0) >= n, `${n} answers ${st}, ${logged.get(st) ?? 0} log lines`);
    assert.ok(s.out.slice(logFrom).some((l) => l.includes('127.0.0.42 - - refused: too many connections from this address')), 'idle connections past the cap are logged');
    const out = s.out.join('\n');
    for (const t of Object.values(tokens)) assert.ok(!out.includes(t), 'no token in the server output');
    assert.ok(!out.includes(HOOK_SECRET), 'no webhook secret in the server output');
    assert.ok(!/bearer/i.test(out), 'no Authorization header in the server output');
  } finally {
    stop = true;
    for (const sock of slowSockets) sock.destroy();
    assert.equal(await stopServe(s), 0);
  }
});
