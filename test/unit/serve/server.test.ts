/**
 * The HTTP API with a stand-in for the release playbook (deploys end when the test says so):
 * routing, every hostile case, queueing and supersede, wait=1 answers, webhooks, restart.
 * The same API against the real release and the lab: test/lab/serve.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { signBody } from '../../../src/serve/github.js';
import type { DeployOutcome, DeployRequest } from '../../../src/serve/run.js';
import { DeployServer } from '../../../src/serve/server.js';
import { hashToken, newToken, signalKey, TokenFile } from '../../../src/serve/tokens.js';
import { call, openSocket, untilClosed } from '../../support/serve.js';
import { execFileSync } from 'node:child_process';
import { mirrorDir } from '../../../modules/git_archive.js';
import { DeliveryLog } from '../../../src/serve/deliveries.js';
import { ROOT } from '../../../src/paths.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-serve-unit-'));
const defsDir = path.join(tmp, 'defs');
const tokens = { alpha: newToken(), beta: newToken(), delta: newToken(), deltaSignal: newToken(), ymltoken: newToken() };
const HOOK_SECRET = 'hook-secret-for-tests';

function writeDefs(): void {
  fs.mkdirSync(path.join(defsDir, 'clusters'), { recursive: true });
  fs.mkdirSync(path.join(defsDir, 'apps'), { recursive: true });
  fs.writeFileSync(path.join(defsDir, 'flight.yml'), `serve:\n  tokens:\n    gamma: ${hashToken(tokens.ymltoken)}\n  github:\n    alpha: { secret_env: FLIGHT_TEST_HOOK_SECRET, repository: acme/alpha }\n`);
  fs.writeFileSync(path.join(defsDir, 'clusters', 'c.yml'), 'php: ["8.2"]\nservers:\n  - { name: s-1, host: 127.0.0.9 }\n');
  for (const app of ['alpha', 'beta', 'gamma', 'delta']) {
    // delta rolls back on signals; the others refuse them.
    const rollback = app === 'delta' ? 'auto_rollback: { error_rate: 0.05, window: 600, min_requests: 10 }\n' : '';
    fs.writeFileSync(path.join(defsDir, 'apps', `${app}.yml`), `repo: git@github.com:acme/${app}.git\nphp: "8.2"\ndomain: ${app}.test\ncluster: c\n${rollback}servers:\n  - name: s-1\n`);
  }
}

/** Deploys that the stand-in runner is holding, by sha: settle one to end it. */
const holding = new Map<string, { req: DeployRequest; settle: (o: DeployOutcome) => void }>();
const started: string[] = [];
async function fakeRunner(req: DeployRequest): Promise<DeployOutcome> {
  started.push(`${req.app}:${req.sha}`);
  req.write(`TASK [pretend] ${req.sha}`);
  return new Promise((settle) => holding.set(req.sha, { req, settle }));
}
async function heldBy(sha: string, ms = 5000): Promise<DeployRequest> {
  const end = Date.now() + ms;
  while (!holding.has(sha)) {
    if (Date.now() > end) throw new Error(`deploy of ${sha} never started (started: ${started.join(', ')})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return holding.get(sha)!.req;
}
function settle(sha: string, ok: boolean): void {
  const h = holding.get(sha)!;
  holding.delete(sha);
  h.req.write(ok ? 'all good' : 'it broke');
  h.settle(ok ? { ok: true, servers: { 's-1': { status: 'changed', ok: 3, changed: 2, failed: 0, skipped: 0, unreachable: 0, rescued: 0, ignored: 0 } } } : { ok: false, error: 'release commands failed', servers: {} });
}

let server: DeployServer;
let base: string;
const dataDir = path.join(tmp, 'data');
const cacheDir = path.join(tmp, 'cache');
const logged: string[] = [];
const sha = (n: number) => n.toString(16).padStart(7, 'a');

async function startServer(): Promise<void> {
  server = await DeployServer.start({
    defsDir, dataDir, host: '127.0.0.1', port: 0, drainTimeoutMs: 2000, runner: fakeRunner, say: (l) => logged.push(l), cacheDir,
    backoff: { free: 20, baseMs: 1000, maxMs: 5000, forgetMs: 60_000, maxEntries: 100 },
  });
  base = server.url;
}

before(async () => {
  process.env.FLIGHT_TEST_HOOK_SECRET = HOOK_SECRET;
  writeDefs();
  const tf = TokenFile.in(dataDir);
  tf.set('alpha', hashToken(tokens.alpha));
  tf.set('beta', hashToken(tokens.beta));
  tf.set('delta', hashToken(tokens.delta));
  tf.set(signalKey('delta'), hashToken(tokens.deltaSignal));
  await startServer();
});

after(async () => {
  for (const s of [...holding.keys()]) settle(s, true);
  await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const deploysOnDisk = () => (fs.existsSync(path.join(dataDir, 'deploys')) ? fs.readdirSync(path.join(dataDir, 'deploys')).flatMap((a) => fs.readdirSync(path.join(dataDir, 'deploys', a))).filter((f) => f.endsWith('.json')).length : 0);

test('healthz answers without a token', async () => {
  const r = await call(base, 'GET', '/healthz');
  assert.equal(r.status, 200);
  assert.equal(r.json.ok, true);
  assert.equal(typeof r.json.memory.heap_used, 'number');
});

test('every route docs/serve.md and docs/elastic.md name is routed: asked without a token, it answers 401 (or 400/429), never 404 or 405', async () => {
  const routes = ['serve.md', 'elastic.md'].flatMap((doc) =>
    [...fs.readFileSync(path.join(ROOT, 'docs', doc), 'utf8').matchAll(/(?:^|`|### `)(GET|POST|DELETE|PUT|PATCH) +(\/[^\s?`[]*)/gm)].map((m) => [doc, m[1]!, m[2]!] as const));
  assert.ok(routes.length >= 7, `routes found: ${routes.length}`);
  for (const [doc, method, route] of routes) {
    const url = route.replace('APP', 'alpha').replace('ID', '20261207T210000.000Z-abcdef').replace('CLUSTER', 'c').replace('NAME', 's-1');
    if (method === 'GET' && route === '/healthz') continue;
    const r = await call(base, method, url, method === 'GET' || method === 'DELETE' ? {} : { body: {} });
    assert.ok([400, 401, 429].includes(r.status), `${doc}: ${method} ${route} -> ${url}: ${r.status} ${JSON.stringify(r.json)}`);
  }
});

test('hostile requests: the right 4xx, short JSON, nothing started or recorded, no token in the log', async () => {
  const before = deploysOnDisk();
  const startedBefore = started.length;
  const big = Buffer.alloc(64 * 1024 + 1, 'a');
  const cases: Array<[string, string, string, Parameters<typeof call>[3], number]> = [
    ['unknown route', 'GET', '/nope', {}, 404],
    ['unknown app', 'POST', '/apps/nosuch/deploys', { token: tokens.alpha, body: { sha: 'abcdef1' } }, 404],
    ['app name that is no name', 'POST', '/apps/..%2f..%2fetc/deploys', { token: tokens.alpha, body: { sha: 'abcdef1' } }, 404],
    ['missing token', 'POST', '/apps/alpha/deploys', { body: { sha: 'abcdef1' } }, 401],
    ['wrong token', 'POST', '/apps/alpha/deploys', { token: 'flt_wrong', body: { sha: 'abcdef1' } }, 401],
    ['malformed Authorization', 'POST', '/apps/alpha/deploys', { headers: { Authorization: 'Basic Zm9vOmJhcg==' }, body: { sha: 'abcdef1' } }, 401],
    ["another app's token", 'POST', '/apps/alpha/deploys', { token: tokens.beta, body: { sha: 'abcdef1' } }, 403],
    ['body over 64 KiB (Content-Length)', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: big }, 413],
    ['body over 64 KiB (chunked)', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: big, chunked: true }, 413],
    ['body over 64 KiB without a token', 'POST', '/apps/alpha/deploys', { body: big }, 413],
    ['bad JSON', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: '{"sha": ' }, 400],
    ['JSON that is not an object', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: '["abcdef1"]' }, 400],
    ['empty body', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: '' }, 400],
    ['bad sha', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: 'main; rm -rf /' } }, 422],
    ['sha not a string', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: 1234567 } }, 422],
    ['sha too long', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: 'a'.repeat(41) } }, 422],
    ['unknown field', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: 'abcdef1', forced: true } }, 422],
    ['force not a boolean', 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: 'abcdef1', force: 'yes' } }, 422],
    ['wrong method', 'DELETE', '/apps/alpha/deploys', { token: tokens.alpha }, 405],
    ['status without token', 'GET', '/apps/alpha/deploys/20250101T000000.000Z-abcdef', {}, 401],
    ['status with bad id', 'GET', '/apps/alpha/deploys/..%2F..%2Ftokens', { token: tokens.alpha }, 404],
    ['status of no deploy', 'GET', '/apps/alpha/deploys/20250101T000000.000Z-abcdef', { token: tokens.alpha }, 404],
    ['log with the wrong token', 'GET', '/apps/alpha/deploys/20250101T000000.000Z-abcdef/log', { token: tokens.beta }, 403],
    ['webhook without signature', 'POST', '/github', { headers: { 'X-GitHub-Event': 'push' }, body: { ref: 'refs/heads/main' } }, 401],
    ['webhook with a bad signature', 'POST', '/github', { headers: { 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': signBody('guess', '{}') }, body: '{}' }, 401],
    ['webhook for an app without one', 'POST', '/github/beta', { headers: { 'X-GitHub-Event': 'push' }, body: '{}' }, 404],
  ];
  for (const [name, method, p, o, want] of cases) {
    const r = await call(base, method, p, o);
    assert.equal(r.status, want, `${name}: ${r.status} ${r.text}`);
    assert.equal(typeof r.json?.error, 'string', `${name}: a JSON error`);
    assert.ok(r.text.length < 200, `${name}: short (${r.text.length} bytes)`);
  }
  assert.equal(deploysOnDisk(), before, 'no deploy recorded');
  assert.equal(started.length, startedBefore, 'no deploy started');
  const all = logged.join('\n');
  for (const t of Object.values(tokens)) assert.ok(!all.includes(t), 'a token was logged');
  assert.ok(!all.includes('Bearer'), 'an Authorization header was logged');
});

test('a flight.yml token works like a data dir token', async () => {
  const r = await call(base, 'GET', '/apps/gamma/deploys', { token: tokens.ymltoken });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.deploys, []);
});

test('deploy: 202 with id and URLs; status and log; one per app; a newer request supersedes the waiting one', async () => {
  const a = await call(base, 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: sha(1) } });
  assert.equal(a.status, 202, a.text);
  assert.match(a.json.id, /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$/);
  assert.equal(a.json.state, 'running');
  assert.equal(a.json.urls.status, `/apps/alpha/deploys/${a.json.id}`);
  assert.equal(a.headers.location, a.json.urls.status);
  await heldBy(sha(1));
  const b = await call(base, 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: sha(2) } });
  const c = await call(base, 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: sha(3).toUpperCase() } });
  assert.equal(b.json.state, 'queued');
  assert.equal(c.json.state, 'queued');
  assert.equal(c.json.sha, sha(3), 'lowercased');
  // Another app is not held up by alpha.
  const other = await call(base, 'POST', '/apps/beta/deploys', { token: tokens.beta, body: { sha: sha(9) } });
  assert.equal(other.json.state, 'running');
  await heldBy(sha(9));

  const bNow = await call(base, 'GET', b.json.urls.status, { token: tokens.alpha });
  assert.equal(bNow.json.state, 'superseded');
  assert.equal(bNow.json.superseded_by, c.json.id);
  // Follow the first deploy's log while it runs; it ends when the deploy does.
  const log = call(base, 'GET', a.json.urls.log, { token: tokens.alpha });
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(!holding.has(sha(3)), 'the waiting deploy has not started');
  settle(sha(1), true);
  const logText = (await log).text;
  assert.match(logText, new RegExp(`TASK \\[pretend\\] ${sha(1)}`));
  assert.match(logText, /all good\nsucceeded at /);
  await heldBy(sha(3));
  const aDone = await call(base, 'GET', a.json.urls.status, { token: tokens.alpha });
  assert.equal(aDone.json.state, 'succeeded');
  assert.equal(aDone.json.servers['s-1'].status, 'changed');
  assert.ok(aDone.json.started_at && aDone.json.finished_at);
  settle(sha(3), true);
  settle(sha(9), true);
  const list = await call(base, 'GET', '/apps/alpha/deploys', { token: tokens.alpha });
  assert.deepEqual(list.json.deploys.map((d: { sha: string }) => d.sha), [sha(3), sha(2), sha(1)]);
  assert.deepEqual(started.filter((s) => s.startsWith('alpha:')), [`alpha:${sha(1)}`, `alpha:${sha(3)}`], 'the superseded one never ran');
});

test('wait=1: 200 when it succeeded, 502 when it failed', async () => {
  const ok = call(base, 'POST', '/apps/alpha/deploys?wait=1', { token: tokens.alpha, body: { sha: sha(4) } });
  await heldBy(sha(4));
  settle(sha(4), true);
  assert.equal((await ok).status, 200);
  assert.equal((await ok).json.state, 'succeeded');
  const bad = call(base, 'POST', '/apps/alpha/deploys?wait=1', { token: tokens.alpha, body: { sha: sha(5) } });
  await heldBy(sha(5));
  settle(sha(5), false);
  const r = await bad;
  assert.equal(r.status, 502);
  assert.equal(r.json.state, 'failed');
  assert.equal(r.json.error, 'release commands failed');
});

test('GitHub push: a signed push to the branch deploys its head; other branches and events are ignored', async () => {
  const head = 'c'.repeat(40);
  const payload = JSON.stringify({ ref: 'refs/heads/main', after: head, head_commit: { id: head }, repository: { full_name: 'acme/alpha' } });
  const headers = (event: string, body: string) => ({ 'X-GitHub-Event': event, 'X-Hub-Signature-256': signBody(HOOK_SECRET, body), 'Content-Type': 'application/json' });
  const ping = await call(base, 'POST', '/github', { headers: headers('ping', '{}'), body: '{}' });
  assert.equal(ping.status, 200, ping.text);
  const other = JSON.stringify({ ref: 'refs/heads/feature', after: head, repository: { full_name: 'acme/alpha' } });
  const ignored = await call(base, 'POST', '/github', { headers: headers('push', other), body: other });
  assert.equal(ignored.status, 200);
  assert.match(ignored.json.ignored.alpha, /refs\/heads\/feature/);
  const r = await call(base, 'POST', '/github/alpha', { headers: headers('push', payload), body: payload });
  assert.equal(r.status, 202, r.text);
  assert.equal(r.json.deploys[0].sha, head);
  assert.equal(r.json.deploys[0].source, 'github');
  await heldBy(head);
  settle(head, true);
  // Push payloads list every commit: a signed one over the API's 64 KiB is still taken, up to 1 MiB.
  const long = JSON.stringify({ ref: 'refs/heads/feature', after: head, repository: { full_name: 'acme/alpha' }, commits: [{ message: 'x'.repeat(200_000) }] });
  const longR = await call(base, 'POST', '/github', { headers: headers('push', long), body: long });
  assert.equal(longR.status, 200, longR.text);
  const huge = 'x'.repeat(1024 * 1024 + 1);
  assert.equal((await call(base, 'POST', '/github', { headers: headers('push', huge), body: huge })).status, 413);
  assert.equal((await call(base, 'POST', '/github', { headers: headers('push', huge), body: huge, chunked: true })).status, 413);
  // Form-encoded deliveries (the other content type GitHub offers) too.
  const form = `payload=${encodeURIComponent(other)}`;
  const f = await call(base, 'POST', '/github', { headers: { ...headers('push', form), 'Content-Type': 'application/x-www-form-urlencoded' }, body: form });
  assert.equal(f.status, 200, f.text);
});

test('repeated token failures from one address are refused for a while (429) from the one after the allowance; the right token always gets in', async () => {
  // A client of its own: the failures of the other tests (from 127.0.0.1) are not its.
  const GUESSER = '127.0.0.21';
  let firstRefusal = -1;
  for (let i = 0; i < 25; i++) {
    const r = await call(base, 'GET', '/apps/alpha/deploys', { token: `flt_guess${i}`, from: GUESSER });
    if (r.status === 429 && firstRefusal < 0) {
      firstRefusal = i;
      assert.ok(Number(r.headers['retry-after']) >= 1);
    }
    if (firstRefusal >= 0) assert.equal(r.status, 429, `attempt ${i + 1}`);
  }
  // backoff.free is 20 here: the 21st attempt is the first refused.
  assert.equal(firstRefusal, 20);
  // The right token, from the same address, in the middle of it: never locked out.
  assert.equal((await call(base, 'GET', '/apps/alpha/deploys', { token: tokens.alpha, from: GUESSER })).status, 200);
  assert.equal((await call(base, 'GET', '/apps/alpha/deploys', { token: 'flt_wrong', from: GUESSER })).status, 429, 'and that clears nothing');
  await new Promise((r) => setTimeout(r, 5100));
  assert.equal((await call(base, 'GET', '/apps/alpha/deploys', { token: 'flt_wrong', from: GUESSER })).status, 401, 'once the delay is over, a wrong token is told so again');
});

const hookHeaders = (event: string, body: string, delivery?: string) => ({
  'X-GitHub-Event': event, 'X-Hub-Signature-256': signBody(HOOK_SECRET, body), 'Content-Type': 'application/json', ...(delivery ? { 'X-GitHub-Delivery': delivery } : {}),
});

test('webhook replays start nothing: a delivery taken before, a commit queued or running, the last release or an older commit', async () => {
  // alpha's repository as the releases' mirror on this machine holds it: three commits in a row.
  const work = path.join(tmp, 'alpha-repo');
  const git = (...args: string[]) => execFileSync('git', ['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { encoding: 'utf8' }).trim();
  fs.mkdirSync(work);
  git('init', '-q');
  const commits = ['one', 'two', 'three'].map((m) => (git('commit', '-q', '--allow-empty', '-m', m), git('rev-parse', 'HEAD')));
  execFileSync('git', ['clone', '-q', '--mirror', work, mirrorDir(cacheDir, 'git@github.com:acme/alpha.git')]);
  const push = (sha: string) => JSON.stringify({ ref: 'refs/heads/main', after: sha, head_commit: { id: sha }, repository: { full_name: 'acme/alpha' } });
  const deliver = (body: string, delivery: string, event = 'push') => call(base, 'POST', '/github', { headers: hookHeaders(event, body, delivery), body });

  const first = await deliver(push(commits[1]!), 'a1b2c3d4-0001');
  assert.equal(first.status, 202, first.text);
  assert.match((await deliver(push(commits[1]!), 'a1b2c3d4-0002')).json.ignored.alpha, /is already (queued|running)/, 'the same commit while it runs');
  await heldBy(commits[1]!);
  settle(commits[1]!, true);
  await server.service.whenDone('alpha', first.json.deploys[0].id);

  const again = await deliver(push(commits[1]!), 'a1b2c3d4-0001');
  assert.equal(again.status, 200);
  assert.match(again.json.ignored.delivery, /delivery a1b2c3d4-0001 was received before/);
  const replay = await deliver(push(commits[1]!), 'a1b2c3d4-0003');
  assert.equal(replay.status, 200);
  assert.match(replay.json.ignored.alpha, /is the last release .* or older than it/);
  const older = await deliver(push(commits[0]!), 'a1b2c3d4-0004');
  assert.equal(older.status, 200);
  assert.match(older.json.ignored.alpha, /or older than it: a replayed or out-of-order push/);
  const newer = await deliver(push(commits[2]!), 'a1b2c3d4-0005');
  assert.equal(newer.status, 202, 'a newer commit goes out');
  await heldBy(commits[2]!);
  settle(commits[2]!, true);
  await server.service.whenDone('alpha', newer.json.deploys[0].id);
  // Without the mirror (pruned, or never made on this machine), a commit released before is
  // still refused: the history remembers it.
  fs.rmSync(mirrorDir(cacheDir, 'git@github.com:acme/alpha.git'), { recursive: true, force: true });
  const unmirrored = await deliver(push(commits[1]!), 'a1b2c3d4-0007');
  assert.equal(unmirrored.status, 200);
  assert.match(unmirrored.json.ignored.alpha, /was released before/);
  const issues = await deliver('{}', 'a1b2c3d4-0006', 'issues');
  assert.equal(issues.status, 200, 'an event that is not a push is taken and ignored: 200');
  assert.match(issues.json.ignored.event, /not a push/);
  // Remembered across a restart.
  assert.ok(new DeliveryLog(path.join(dataDir, 'github-deliveries.json')).seen('a1b2c3d4-0005'));
  assert.deepEqual(started.filter((x) => commits.includes(x.slice(6))), [`alpha:${commits[1]}`, `alpha:${commits[2]}`], 'two deploys, no more');
});

test('app names cannot be probed: an unknown app answers as a known one does, unless the token is valid', async () => {
  const from = '127.0.0.22';
  for (const app of ['beta', 'nosuch']) {
    const r = await call(base, 'GET', `/apps/${app}/deploys`, { from });
    assert.equal(r.status, 401, app);
    assert.deepEqual(r.json, { error: 'missing bearer token' }, app);
  }
  assert.equal((await call(base, 'GET', '/apps/nosuch/deploys', { token: tokens.alpha, from })).status, 404, 'a valid token learns that it is unknown');
  assert.equal((await call(base, 'POST', '/github/nosuch', { body: '{}', from })).status, 404);
  assert.deepEqual((await call(base, 'POST', '/github/beta', { body: '{}', from })).json, { error: 'no webhook here' }, 'an app without a webhook answers the same');
});

test("a hand-broken tokens.json: flight.yml's tokens still work, the others get 500, nothing of the file is logged", async () => {
  const file = path.join(dataDir, 'tokens.json');
  const good = fs.readFileSync(file, 'utf8');
  const pasted = newToken();
  fs.writeFileSync(file, `{"alpha": ${pasted}}`);
  const seen = logged.length;
  try {
    assert.equal((await call(base, 'GET', '/apps/gamma/deploys', { token: tokens.ymltoken })).status, 200);
    const r = await call(base, 'GET', '/apps/alpha/deploys', { token: tokens.alpha });
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, { error: 'token store unreadable' });
    const lines = logged.slice(seen).join('\n');
    assert.match(lines, /tokens\.json: not valid JSON/);
    assert.ok(!lines.includes(pasted.slice(4, 16)), 'no part of the file in the log');
  } finally {
    fs.writeFileSync(file, good);
  }
  assert.equal((await call(base, 'GET', '/apps/alpha/deploys', { token: tokens.alpha })).status, 200, 'fixed by hand: read again');
});

test('slow webhook senders hold only their own share: another client still gets through', async () => {
  const slow = 'POST /github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{';
  const held = [await openSocket(base, '127.0.0.31', slow), await openSocket(base, '127.0.0.31', slow)];
  try {
    await new Promise((r) => setTimeout(r, 100));
    const third = await untilClosed(await openSocket(base, '127.0.0.31', slow), 5000);
    assert.match(third.text, /^HTTP\/1\.1 503/, 'a third slow body from the same client is refused');
    const ping = await call(base, 'POST', '/github', { headers: hookHeaders('ping', '{}'), body: '{}', from: '127.0.0.32' });
    assert.equal(ping.status, 200, "GitHub's delivery from another address is taken");
  } finally {
    for (const s of held) s.destroy();
  }
});

test('idle connections from one address are capped; everyone else, /healthz included, still connects', async () => {
  const seen = logged.length;
  const idle = await Promise.all(Array.from({ length: 40 }, () => openSocket(base, '127.0.0.33')));
  try {
    const closed = await Promise.all(idle.map((s) => untilClosed(s, 1000)));
    assert.equal(closed.filter((c) => c.closed).length, 40 - 32, 'past its 32, a client\'s connections are closed at once');
    assert.equal((await call(base, 'GET', '/healthz')).status, 200);
    assert.equal(logged.slice(seen).filter((l) => l.includes('127.0.0.33 - - refused: too many connections from this address')).length, 8);
  } finally {
    for (const s of idle) s.destroy();
  }
});

test('what the HTTP parser refuses is logged too; a request whose headers never end is cut off at 10 s', async () => {
  const seen = logged.length;
  const garbage = await untilClosed(await openSocket(base, '127.0.0.34', 'NOT HTTP\r\n\r\n'), 5000);
  assert.match(garbage.text, /^HTTP\/1\.1 400/);
  const half = await untilClosed(await openSocket(base, '127.0.0.34', 'GET /healthz HTTP/1.1\r\nHost: x\r\n'), 20_000);
  assert.ok(half.closed && half.after >= 9_000 && half.after < 12_500, `cut off after ${half.after} ms`);
  const lines = logged.slice(seen);
  assert.ok(lines.some((l) => / 127\.0\.0\.34 - - 400 /.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => / 127\.0\.0\.34 - - 408 /.test(l)), lines.join('\n'));
});

test('restart: history survives; a running deploy is marked interrupted and the next one takes over its lock', async () => {
  const r = await call(base, 'POST', '/apps/beta/deploys', { token: tokens.beta, body: { sha: sha(6) } });
  const held = await heldBy(sha(6));
  const queued = await call(base, 'POST', '/apps/beta/deploys', { token: tokens.beta, body: { sha: sha(7) } });
  // A crash: the server object is dropped without stop(); a new one starts on the same data.
  const crashed = server;
  await new Promise<void>((res) => (crashed as unknown as { server: import('node:http').Server }).server.close(() => res()));
  (crashed as unknown as { server: import('node:http').Server }).server.closeAllConnections();
  const frozen = JSON.parse(fs.readFileSync(path.join(dataDir, 'deploys', 'beta', `${r.json.id}.json`), 'utf8'));
  assert.equal(frozen.state, 'running');
  holding.delete(sha(6)); // the crashed process's run is gone with it
  await startServer();
  const after = await call(base, 'GET', r.json.urls.status, { token: tokens.beta });
  assert.equal(after.json.state, 'interrupted');
  assert.equal(after.json.run_id, held.runId);
  const q = await call(base, 'GET', queued.json.urls.status, { token: tokens.beta });
  assert.equal(q.json.state, 'cancelled');
  const old = await call(base, 'GET', '/apps/alpha/deploys', { token: tokens.alpha });
  assert.ok(old.json.deploys.length >= 5, 'alpha history kept');
  const next = await call(base, 'POST', '/apps/beta/deploys', { token: tokens.beta, body: { sha: sha(8) } });
  const nextReq = await heldBy(sha(8));
  assert.equal(nextReq.runId, held.runId, 'runs as the interrupted run, so only its lock is taken over');
  // It fails (say, before it reached the lock): taking over is not used up by it.
  settle(sha(8), false);
  const failed = await server.service.whenDone('beta', next.json.id);
  assert.equal(failed.took_over, r.json.id);
  const retry = await call(base, 'POST', '/apps/beta/deploys', { token: tokens.beta, body: { sha: sha(13) } });
  assert.equal((await heldBy(sha(13))).runId, held.runId, 'the deploy after a failed takeover runs as the interrupted run too');
  settle(sha(13), true);
  const done = await server.service.whenDone('beta', retry.json.id);
  assert.equal(done.took_over, r.json.id);
  // Once one under that run succeeded, deploys get fresh run ids again.
  const again = await call(base, 'POST', '/apps/beta/deploys', { token: tokens.beta, body: { sha: sha(10) } });
  assert.notEqual((await heldBy(sha(10))).runId, held.runId);
  settle(sha(10), true);
  await server.service.whenDone('beta', again.json.id);
});

test('signals: a rate over the threshold rolls the last release back once; that commit is refused until forced', async () => {
  const signal = (body: object, token: string = tokens.deltaSignal, app = 'delta') => call(base, 'POST', `/apps/${app}/signals`, { token, body });
  // Refused before anything is looked at: no token, another app's, an app without auto_rollback, bad bodies.
  assert.equal((await signal({ error_rate: 0.5 }, '')).status, 401);
  assert.equal((await signal({ error_rate: 0.5 }, tokens.beta)).status, 403);
  const off = await signal({ error_rate: 0.5 }, tokens.alpha, 'alpha');
  assert.equal(off.status, 409, off.text);
  assert.match(off.json.error, /automatic rollback is not set up for alpha \(auto_rollback in apps\/alpha\.yml\)/);
  for (const bad of [{ error_rate: 2 }, { error_rate: '5%' }, { errors: 3 }, { errors: 5, requests: 2 }, { error_rate: 0.5, errors: 1, requests: 2 }, { error_rate: 0.5, who: 'x' }, { error_rate: 0.5, sha: 'zz' }]) {
    const r = await signal(bad);
    assert.equal(r.status, 422, `${JSON.stringify(bad)}: ${r.text}`);
  }
  // The signal token cannot deploy.
  assert.equal((await call(base, 'POST', '/apps/delta/deploys', { token: tokens.deltaSignal, body: { sha: sha(20) } })).status, 403);
  let r = await signal({ error_rate: 0.5, requests: 100 });
  assert.deepEqual([r.status, r.json.action], [200, 'none']);
  assert.match(r.json.reason, /no successful release/);

  const good = await call(base, 'POST', '/apps/delta/deploys', { token: tokens.delta, body: { sha: sha(20) } });
  await heldBy(sha(20));
  r = await signal({ error_rate: 0.5, requests: 100 });
  assert.match(r.json.reason, new RegExp(`release ${good.json.id} is running`), 'a running release is not judged yet');
  settle(sha(20), true);
  await server.service.whenDone('delta', good.json.id);
  for (const [body, why] of [
    [{ error_rate: 0.01, requests: 100 }, /error rate 1\.0% over 100 requests is within the 5\.0% threshold/],
    [{ errors: 9, requests: 9 }, /covers 9 requests, fewer than the 10 required/],
    [{ error_rate: 0.9, requests: 100, sha: 'bbbbbbb' }, new RegExp(`about bbbbbbb; the last release is ${sha(20)}`)],
  ] as const) {
    r = await signal(body);
    assert.deepEqual([r.status, r.json.action], [200, 'none'], r.text);
    assert.match(r.json.reason, why);
  }
  assert.ok(!holding.has(sha(20)), 'nothing was started');

  // Over the threshold, with the app's deploy token this time: the rollback runs like a deploy.
  const hit = call(base, 'POST', '/apps/delta/signals?wait=1', { token: tokens.delta, body: { errors: 30, requests: 200, sha: sha(20).slice(0, 5) } });
  const req = await heldBy(sha(20));
  assert.equal(req.kind, 'rollback');
  settle(sha(20), true);
  r = await hit;
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.action, 'rollback');
  assert.match(r.json.reason, new RegExp(`error rate 15% over 200 requests passed the 5\\.0% threshold \\d+ s after release ${good.json.id}`));
  assert.deepEqual([r.json.rollback.kind, r.json.rollback.state, r.json.rollback.rollback_of, r.json.rollback.source], ['rollback', 'succeeded', good.json.id, 'signal']);
  const rolled = await call(base, 'GET', good.json.urls.status, { token: tokens.delta });
  assert.equal(rolled.json.rollback.id, r.json.rollback.id);
  assert.equal(rolled.json.rollback.reason, r.json.reason);
  // Once only.
  r = await signal({ error_rate: 0.9, requests: 100 });
  assert.match(r.json.reason, new RegExp(`already rolled back by ${rolled.json.rollback.id}`));

  // The commit is refused, full or abbreviated, until forced; other commits are not.
  for (const s of [sha(20), sha(20).slice(0, 4)]) {
    const again = await call(base, 'POST', '/apps/delta/deploys', { token: tokens.delta, body: { sha: s } });
    assert.equal(again.status, 409, again.text);
    assert.match(again.json.error, new RegExp(`${sha(20)} was rolled back automatically at .*; send "force": true to deploy it anyway`));
  }
  const forced = await call(base, 'POST', '/apps/delta/deploys', { token: tokens.delta, body: { sha: sha(20), force: true } });
  assert.equal(forced.status, 202, forced.text);
  assert.equal(forced.json.force, true);
  await heldBy(sha(20));
  settle(sha(20), true);
  await server.service.whenDone('delta', forced.json.id);
  const history = JSON.parse(fs.readFileSync(path.join(dataDir, 'deploys', 'delta', `${good.json.id}.json`), 'utf8'));
  assert.equal(history.rollback.id, rolled.json.rollback.id, 'the reason is on disk');
});

test('stop: refuses new requests, cancels waiting deploys, lets the running one finish', async () => {
  const run = await call(base, 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: sha(11) } });
  await heldBy(sha(11));
  const waiting = await call(base, 'POST', '/apps/alpha/deploys', { token: tokens.alpha, body: { sha: sha(12) } });
  const stopping = server.stop();
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(call(base, 'GET', '/healthz'), /ECONNREFUSED/);
  settle(sha(11), true);
  assert.equal(await stopping, true);
  const recs = (id: string) => JSON.parse(fs.readFileSync(path.join(dataDir, 'deploys', 'alpha', `${id}.json`), 'utf8'));
  assert.equal(recs(run.json.id).state, 'succeeded');
  assert.equal(recs(waiting.json.id).state, 'cancelled');
  await startServer(); // for after()
});
