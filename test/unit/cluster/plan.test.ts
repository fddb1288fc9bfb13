/** What `flight server:add` decides before it writes or connects: planAdd and its rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDefinitions, type Definitions } from '../../../src/definitions/index.js';
import { FlightError } from '../../../src/errors.js';
import { planAdd, type AddRequest, type PlanContext } from '../../../src/cluster/plan.js';

const CLUSTER = `php: ["8.2"]
servers:
  - name: web-1
    host: 10.0.0.1
    web_server: true
    listen: 10.0.0.1
    ssh: { user: deploy, key: keys/deploy }
  - name: worker-1
    host: 10.0.0.2
    ssh: { port: 2222 }
`;

const SHOP = `repo: git@example.com:org/shop.git
php: "8.2"
domain: shop.example.com
cluster: lab
servers:
  - name: web-1
    web: { max_workers: 20, min_spare_workers: 2, initial_workers: 4, max_spare_workers: 8 }
    deploy_commands: [artisan migrate --force]
  - name: worker-1
    queues: [{ name: default, command: queue:work }]
    scheduler: true
`;

const BLOG = `repo: git@example.com:org/blog.git
php: "8.2"
domain: blog.example.com
cluster: lab
servers:
  - name: worker-1
`;

function defs(state?: string): Definitions {
  const sources = [
    { file: 'clusters/lab.yml', text: CLUSTER },
    { file: 'apps/blog.yml', text: BLOG },
    { file: 'apps/shop.yml', text: SHOP },
    ...(state ? [{ file: 'clusters/lab.servers.yml', text: state }] : []),
  ];
  const r = checkDefinitions('/defs', sources);
  assert.deepEqual(r.problems, []);
  return r.definitions!;
}

const ctx: PlanContext = {
  rawSsh: new Map([['web-1', { user: 'deploy', key: 'keys/deploy' }], ['worker-1', { port: 2222 }]]),
  now: '2026-02-01T10:00:00Z',
  by: 'ann@deploybox',
  pid: 4242,
  alive: () => false,
};

const add = (req: Partial<AddRequest>, d = defs()) => planAdd(d, { cluster: 'lab', name: 'web-2', host: '10.0.0.3', web: true, ...req }, ctx);

function rejects(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof FlightError && e.kind === 'invalid' && message.test(e.message));
}

test('a web server is like the first web server: its apps, their web pools, its ssh settings, listening on its own address', () => {
  const plan = add({});
  assert.equal(plan.like, 'web-1');
  assert.deepEqual(plan.apps, ['shop']);
  assert.deepEqual(plan.record, {
    name: 'web-2', host: '10.0.0.3', web_server: true, listen: '10.0.0.3',
    ssh: { user: 'deploy', key: 'keys/deploy' }, like: 'web-1', status: 'joining', since: '2026-02-01T10:00:00Z', by: 'ann@deploybox', pid: 4242,
    apps: { shop: { joined: false, web: { max_workers: 20, min_spare_workers: 2, initial_workers: 4, max_spare_workers: 8 }, deploy_commands: [], queues: [], scheduler: false } },
  });
  assert.deepEqual(plan.notes, ['shop: copies web pool from web-1; not copied: deploy_commands (artisan migrate --force) (--copy queues,scheduler,deploy_commands copies them)']);
});

test('a server that is not a web server is like the first other server; queues, scheduler and deploy commands only when asked', () => {
  const plain = add({ web: false, name: 'worker-2' });
  assert.equal(plain.like, 'worker-1');
  assert.deepEqual(plain.apps, ['blog', 'shop']);
  assert.equal(plain.record.listen, undefined);
  assert.deepEqual(plain.record.ssh, { port: 2222 });
  assert.deepEqual(plain.record.apps.shop!.queues, []);
  assert.equal(plain.record.apps.shop!.scheduler, false);
  assert.match(plain.notes[1]!, /not copied: queues \(default\), scheduler/);

  const copied = add({ web: false, name: 'worker-2', copy: ['queues', 'scheduler'], ssh: { user: 'ops', key: 'keys/ops' } });
  assert.deepEqual(copied.record.apps.shop!.queues, [{ name: 'default', command: 'queue:work', workers: 1, stop_wait_timeout: 60 }]);
  assert.equal(copied.record.apps.shop!.scheduler, true);
  assert.deepEqual(copied.record.ssh, { port: 2222, user: 'ops', key: 'keys/ops' });
  assert.equal(copied.notes[1], 'shop: copies web pool, queues, scheduler from worker-1');
});

test('names, addresses and the like server are checked first', () => {
  rejects(() => add({ name: 'worker-1' }), /server name 'worker-1' is taken: a server of cluster 'lab'/);
  rejects(() => add({ name: 'Web_2' }), /the server name "Web_2" is not valid: expected a server name of lowercase letters/);
  rejects(() => add({ host: '-oProxyCommand=id' }), /the host "-oProxyCommand=id" is not valid: expected a host/);
  rejects(() => add({ listen: '10.0.0.5 default_server' }), /the listen address "10.0.0.5 default_server" is not valid: expected an IPv4 or IPv6 address/);
  rejects(() => add({ name: 'web' }), /reserved/);
  rejects(() => add({ host: '10.0.0.1' }), /host 10.0.0.1 \(port 22\) is taken: server 'web-1'/);
  // Another port of the same address is another machine (the like server's port is inherited).
  assert.equal(add({ host: '10.0.0.1', ssh: { port: 2200 } }).record.host, '10.0.0.1');
  rejects(() => add({ like: 'web-9' }), /--like web-9: not a server of cluster 'lab'/);
  rejects(() => add({ cluster: 'prod' }), /unknown cluster 'prod'/);
  rejects(() => add({ copy: ['web' as never] }), /--copy web: expected any of queues, scheduler, deploy_commands/);
});

test('listen: given, inherited as "own address", none for a non-web server; another address cannot be guessed', () => {
  assert.equal(add({ listen: '192.168.1.3' }).record.listen, '192.168.1.3');
  const d = defs();
  d.clusters.get('lab')!.servers[0]!.listen = '192.168.1.1';
  rejects(() => add({}, d), /web-1 has nginx listen on 192.168.1.1, an address of its own: give web-2 one with --listen ADDRESS/);
  d.clusters.get('lab')!.servers[0]!.listen = null;
  assert.equal(add({}, d).record.listen, undefined, 'listening everywhere stays so');
});

const record = (status: string, extra = '') => `servers:
  - name: web-2
    host: 10.0.0.3
    web_server: true
    status: ${status}
    since: 2026-01-01T00:00:00Z
    by: ann@deploybox
    pid: 99${extra}
    apps:
      shop: { joined: true, web: { max_workers: 20, min_spare_workers: 2, initial_workers: 4, max_spare_workers: 8 }, deploy_commands: [], queues: [], scheduler: false }
`;

test('an add that failed or died is resumed; a ready one, or one running now, is not', () => {
  const resumed = add({}, defs(record('failed', '\n    error: apt failed')));
  assert.equal(resumed.resumes?.name, 'web-2');
  assert.equal(resumed.record.apps.shop!.joined, true, 'an app already joined stays joined');
  rejects(() => add({}, defs(record('ready'))), /already added to cluster 'lab' \(ready since/);
  rejects(() => planAdd(defs(record('joining')), { cluster: 'lab', name: 'web-2', host: '10.0.0.3', web: true }, { ...ctx, alive: () => true }), /being added right now \(process 99/);
  assert.ok(add({}, defs(record('joining'))).resumes, 'its process is gone: resumed');
  rejects(() => add({ host: '10.0.0.9' }, defs(record('failed'))), /was being added with host 10.0.0.3, not 10.0.0.9/);
});
