/**
 * The elastic routes of `flight serve` without a lab: the admin token, wrong requests (422,
 * nothing written), and a whole add that fails because nothing answers SSH at the new address
 * (a port nothing listens on): the job fails, the record says so, the log tells why, and a
 * DELETE drops it. The real add, on real servers: test/lab/elastic.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeployServer } from '../../../src/serve/server.js';
import { hashToken, newToken, TokenFile } from '../../../src/serve/tokens.js';
import { call } from '../../support/serve.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-elastic-http-'));
const defsDir = path.join(tmp, 'defs');
const dataDir = path.join(tmp, 'data');
const admin = newToken();
const appToken = newToken();
const stateFile = path.join(defsDir, 'clusters', 'c.servers.yml');
let server: DeployServer;

before(async () => {
  fs.mkdirSync(path.join(defsDir, 'clusters'), { recursive: true });
  fs.mkdirSync(path.join(defsDir, 'apps'), { recursive: true });
  fs.writeFileSync(path.join(defsDir, 'clusters', 'c.yml'), 'php: ["8.2"]\nservers:\n  - { name: s-1, host: 127.0.0.9, web_server: true, listen: 127.0.0.9 }\n');
  fs.writeFileSync(path.join(defsDir, 'apps', 'alpha.yml'), 'repo: /srv/alpha\nphp: "8.2"\ndomain: alpha.test\ncluster: c\nservers:\n  - name: s-1\n');
  const tokens = TokenFile.in(dataDir);
  tokens.set('admin', hashToken(admin));
  tokens.set('alpha', hashToken(appToken));
  server = await DeployServer.start({ defsDir, dataDir, host: '127.0.0.1', port: 0, drainTimeoutMs: 5000, say: () => {} });
});

after(async () => {
  await server.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('only the admin token may add or remove servers', async () => {
  const body = { name: 's-2', host: '127.0.0.10', web: true };
  assert.equal((await call(server.url, 'POST', '/clusters/c/servers', { body })).status, 401);
  assert.equal((await call(server.url, 'POST', '/clusters/c/servers', { body, token: appToken })).status, 403);
  assert.equal((await call(server.url, 'GET', '/clusters/c/servers/s-2', { token: appToken })).status, 403);
  assert.equal((await call(server.url, 'PUT', '/clusters/c/servers', { body, token: admin })).status, 405);
  assert.equal((await call(server.url, 'GET', '/clusters/c/nodes', { token: admin })).status, 404);
});

test('a wrong request is refused with the reason, and writes nothing', async () => {
  const cases: [object, number, RegExp][] = [
    [{ name: 's-2', host: '127.0.0.10', color: 'red' }, 422, /unknown field: color/],
    [{ name: 's-2' }, 422, /host must be a non-empty string/],
    [{ name: 's-2', host: '127.0.0.10', copy: ['web'] }, 422, /copy must be a list of: queues, scheduler, deploy_commands/],
    [{ name: 's-1', host: '127.0.0.10', web: true }, 422, /server name 's-1' is taken/],
    [{ name: 's-2', host: '127.0.0.9', web: true }, 422, /host 127\.0\.0\.9 \(port 22\) is taken/],
    [{ name: 's-2', host: '127.0.0.10', web: false }, 422, /no non-web server to copy app settings from/],
  ];
  for (const [body, status, message] of cases) {
    const r = await call(server.url, 'POST', '/clusters/c/servers', { body, token: admin });
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.match(r.json.error, message);
  }
  assert.equal((await call(server.url, 'POST', '/clusters/nope/servers', { body: { name: 's-2', host: '127.0.0.10' }, token: admin })).status, 422);
  assert.ok(!fs.existsSync(stateFile), 'nothing was recorded');
});

test('an add that cannot reach its server fails, says why, stays recorded as failed; DELETE drops it', async () => {
  const body = { name: 's-2', host: '127.0.0.10', web: true, ssh: { port: 1 } };
  const r = await call(server.url, 'POST', '/clusters/c/servers?wait=1', { body, token: admin, timeoutMs: 60_000 });
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.job.state, 'failed');
  assert.match(r.json.job.error, /server:add s-2: provision playbook: s-2: .*127\.0\.0\.10/);
  assert.equal(r.json.record.status, 'failed');
  assert.deepEqual(r.json.record.ssh, { port: 1 });
  assert.equal(r.headers.location, '/clusters/c/servers/s-2');

  const status = await call(server.url, 'GET', '/clusters/c/servers/s-2', { token: admin });
  assert.equal(status.status, 200);
  assert.equal(status.json.record.status, 'failed');
  const log = await call(server.url, 'GET', '/clusters/c/servers/s-2/log', { token: admin });
  assert.match(log.text, /^==> plan: s-2 \(127\.0\.0\.10, web server\) joins cluster c like s-1; apps: alpha$/m);
  assert.match(log.text, /^failed: server:add s-2: /m);
  assert.doesNotMatch(log.text, /\x1b\[/, 'no colour codes in the log');

  const removed = await call(server.url, 'DELETE', '/clusters/c/servers/s-2?wait=1', { token: admin, timeoutMs: 60_000 });
  assert.equal(removed.status, 200, removed.text);
  assert.equal(removed.json.record, null);
  assert.ok(!fs.existsSync(stateFile), 'the state file went with its last server');
  const again = await call(server.url, 'DELETE', '/clusters/c/servers/s-2?wait=1', { token: admin, timeoutMs: 60_000 });
  assert.equal(again.status, 502);
  assert.match(again.json.job.error, /no server 's-2' in cluster 'c'/);
});
