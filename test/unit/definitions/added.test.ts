/**
 * clusters/<cluster>.servers.yml, the servers `flight server:add` recorded: who is a member of
 * the cluster and of each app by status, `include`, and the positioned problems of a bad file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDefinitions, type DefinitionSource } from '../../../src/definitions/index.js';
import { buildInventory } from '../../../src/inventory/index.js';
import { formatProblem } from '../../../src/problems.js';

const CLUSTER = `php: ["8.2"]
servers:
  - name: web-1
    host: 10.0.0.1
    web_server: true
  - name: worker-1
    host: 10.0.0.2
`;

const APP = `repo: git@example.com:org/shop.git
php: "8.2"
domain: shop.example.com
cluster: lab
servers:
  - name: web-1
  - name: worker-1
    scheduler: true
`;

const entry = (joined: boolean) => `{ joined: ${joined}, web: { max_workers: 10, min_spare_workers: 2, initial_workers: 3, max_spare_workers: 5 }, deploy_commands: [], queues: [], scheduler: false }`;

/** A state file with one server per [name, status, joined] triple, hosts 10.0.0.10, .11, ... */
function stateFile(servers: [string, string, boolean][]): string {
  const items = servers.map(([name, status, joined], i) => `  - name: ${name}
    host: 10.0.0.${10 + i}
    web_server: true
    like: web-1
    status: ${status}
    since: 2026-01-01T00:00:00Z
    apps:
      shop: ${entry(joined)}
`);
  return `# Written by Flight.\nservers:\n${items.join('')}`;
}

function load(state: string, extra: DefinitionSource[] = [], include: string[] = []) {
  return checkDefinitions('/defs', [
    { file: 'clusters/lab.yml', text: CLUSTER },
    { file: 'clusters/lab.servers.yml', text: state },
    { file: 'apps/shop.yml', text: APP },
    ...extra,
  ], { include });
}

test('added servers join the cluster and an app by their record: joining and failed ones receive nothing', () => {
  const r = load(stateFile([['web-2', 'ready', true], ['web-3', 'joining', false], ['web-4', 'failed', false], ['web-5', 'joining', true]]));
  assert.deepEqual(r.problems.map(formatProblem), []);
  const defs = r.definitions!;
  assert.deepEqual(defs.clusters.get('lab')!.servers.map((s) => s.name), ['web-1', 'worker-1', 'web-2', 'web-5'], 'ready, or joined to an app');
  assert.deepEqual(defs.apps.get('shop')!.servers.map((s) => s.name), ['web-1', 'worker-1', 'web-2', 'web-5']);
  assert.deepEqual(defs.added.map((s) => [s.name, s.status, s.apps.shop!.joined]), [
    ['web-2', 'ready', true], ['web-3', 'joining', false], ['web-4', 'failed', false], ['web-5', 'joining', true],
  ]);
  // The app's first server (where releases take the lock) stays the one its own file names first.
  assert.deepEqual(buildInventory(defs).select('app_shop').map((h) => h.name), ['web-1', 'worker-1', 'web-2', 'web-5']);
});

test('include treats a recorded server as joined everywhere (what server:add works with)', () => {
  const defs = load(stateFile([['web-2', 'ready', true], ['web-3', 'joining', false]]), [], ['web-3']).definitions!;
  assert.deepEqual(defs.apps.get('shop')!.servers.map((s) => s.name), ['web-1', 'worker-1', 'web-2', 'web-3']);
  const inv = buildInventory(defs);
  assert.deepEqual(inv.select('web').map((h) => h.name), ['web-1', 'web-2', 'web-3']);
  const vars = inv.hosts.get('web-3')!.vars as { apps: Record<string, { server: { name: string; scheduler: boolean } }>; listen: string | null };
  assert.equal(vars.apps.shop!.server.name, 'web-3');
  assert.equal(vars.apps.shop!.server.scheduler, false);
});

test('an app file may name an added server; the state file need not exist', () => {
  const other = `repo: /srv/other
php: "8.2"
domain: other.example.com
cluster: lab
servers:
  - name: web-2
`;
  const r = load(stateFile([['web-2', 'ready', true]]), [{ file: 'apps/other.yml', text: other }]);
  assert.deepEqual(r.problems.map(formatProblem), []);
  assert.deepEqual(r.definitions!.apps.get('other')!.servers.map((s) => s.name), ['web-2']);
  const none = checkDefinitions('/defs', [{ file: 'clusters/lab.yml', text: CLUSTER }, { file: 'apps/shop.yml', text: APP }]);
  assert.deepEqual(none.definitions!.added, []);
});

test('a bad state file is reported like any definition file: file, line, column, what was expected', () => {
  const state = `servers:
  - name: web-1
    host: 10.0.0.2
    web_server: true
    status: ready
    since: 2026-01-01T00:00:00Z
    apps:
      shop: ${entry(true)}
      blog: ${entry(true)}
  - name: web-9
    host: 10.0.0.9
    status: finished
    since: yesterday
    apps: {}
`;
  const r = load(state);
  assert.deepEqual(r.problems.map(formatProblem), [
    'clusters/lab.servers.yml:12:13: servers[1].status: must be one of: joining, ready, failed',
    'clusters/lab.servers.yml:13:12: servers[1].since: must be a UTC time like 2026-01-31T12:00:00Z',
  ]);

  const r2 = load(state.replace('finished', 'ready').replace('yesterday', '2026-01-01T00:00:00Z'));
  assert.deepEqual(r2.problems.map(formatProblem), [
    'clusters/lab.servers.yml:2:11: servers[0].name: server name \'web-1\' is also used in clusters/lab.yml:3:11 (server names must be unique across clusters)',
    "clusters/lab.servers.yml:3:11: servers[0].host: duplicate host 10.0.0.2 (port 22): also server 'worker-1' (clusters/lab.yml:7:11)",
    "clusters/lab.servers.yml:8:7: servers[0].apps.shop: apps/shop.yml lists 'web-1' too (apps/shop.yml:6:11): keep one of the two entries",
    "clusters/lab.servers.yml:9:7: servers[0].apps.blog: no app 'blog' (no file apps/blog.yml)",
  ]);
});

test('a state file without its cluster, a typo in it, and a pool php-fpm would refuse are errors', () => {
  const r = checkDefinitions('/defs', [
    { file: 'clusters/lab.yml', text: CLUSTER },
    { file: 'clusters/prod.servers.yml', text: stateFile([['web-2', 'ready', true]]) },
    { file: 'apps/shop.yml', text: APP },
  ]);
  assert.deepEqual(r.problems.map(formatProblem), [
    "clusters/prod.servers.yml:1:1: no cluster 'prod' (no file clusters/prod.yml): this file lists servers `flight server:add` added to it",
  ]);
  const typo = load(stateFile([['web-2', 'ready', true]]).replace('like: web-1', 'lik: web-1'));
  assert.match(typo.problems.map(formatProblem).join('\n'), /^clusters\/lab\.servers\.yml:6:5: servers\[0\]: unknown key 'lik' .*did you mean 'like'\?$/);
  const pool = load(stateFile([['web-2', 'ready', true]]).replace('min_spare_workers: 2', 'min_spare_workers: 4'));
  assert.deepEqual(pool.problems.map(formatProblem), [
    'clusters/lab.servers.yml:10:92: servers[0].apps.shop.web: min_spare_workers (4) must be <= initial_workers (3): php-fpm needs min_spare_workers <= initial_workers <= max_spare_workers <= max_workers',
  ]);
});
