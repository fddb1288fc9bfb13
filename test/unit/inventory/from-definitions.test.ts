import { appLayout } from '../../../src/definitions/layout.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { checkDefinitions, loadDefinitions, DEFAULT_COMPOSER_COMMAND } from '../../../src/definitions/index.js';
import type { DefinitionHostVars } from '../../../src/inventory/host-vars.js';
import { buildInventory } from '../../../src/inventory/index.js';
import { defsFixture } from '../definitions/fixtures.js';

const defs = await loadDefinitions(defsFixture('good'));

test('hosts are the servers of every cluster, in file order, plus an implicit localhost', () => {
  const inv = buildInventory(defs);
  assert.deepEqual([...inv.hosts.keys()], ['lab-1', 'web-1', 'web-2', 'worker-1', 'localhost']);
  const local = inv.hosts.get('localhost')!;
  assert.equal(local.connection, 'local');
  assert.deepEqual(local.groups, []);
  assert.equal(inv.hosts.get('web-1')!.connection, 'ssh');
  assert.equal(inv.hosts.get('web-1')!.address, '203.0.113.10');
});

test('groups: all, cluster_<name>, web, workers, scheduler, database, redis, app_<name>, app_<name>_database, app_<name>_redis', () => {
  const inv = buildInventory(defs);
  assert.deepEqual(Object.fromEntries(inv.groups), {
    all: ['lab-1', 'web-1', 'web-2', 'worker-1'],
    cluster_lab: ['lab-1'],
    cluster_production: ['web-1', 'web-2', 'worker-1'],
    web: ['lab-1', 'web-1', 'web-2'],
    workers: ['worker-1'],
    scheduler: ['worker-1'],
    database: [],
    redis: [],
    app_blog: ['web-2', 'worker-1'],
    app_demo: ['lab-1'],
    app_shop: ['web-1', 'web-2', 'worker-1'],
    app_blog_database: [],
    app_blog_redis: [],
    app_demo_database: [],
    app_demo_redis: [],
    app_shop_database: [],
    app_shop_redis: [],
  });
  assert.deepEqual(inv.hosts.get('web-2')!.groups, ['all', 'cluster_production', 'web', 'app_blog', 'app_shop']);
  assert.deepEqual(inv.hosts.get('worker-1')!.groups, ['all', 'cluster_production', 'workers', 'scheduler', 'app_blog', 'app_shop']);
});

test('one cluster only', () => {
  const inv = buildInventory(defs, { cluster: 'lab' });
  assert.deepEqual([...inv.hosts.keys()], ['lab-1', 'localhost']);
  assert.deepEqual(Object.fromEntries(inv.groups), {
    all: ['lab-1'],
    cluster_lab: ['lab-1'],
    web: ['lab-1'],
    workers: [],
    scheduler: [],
    database: [],
    redis: [],
    app_demo: ['lab-1'],
    app_demo_database: [],
    app_demo_redis: [],
  });
  // An empty fixed group selects nothing, without error.
  assert.deepEqual(inv.select('workers'), []);
  assert.throws(() => buildInventory(defs, { cluster: 'nope' }), /unknown cluster 'nope' \(clusters: lab, production\)/);
});

test('host variables: cluster settings, the server, and each app with this host\'s entry', () => {
  const inv = buildInventory(defs);
  const vars = inv.hosts.get('worker-1')!.vars;
  const { apps, ...rest } = vars as { apps: Record<string, Record<string, unknown>> };
  assert.deepEqual(rest, {
    cluster_name: 'production',
    php_versions: ['7.4', '8.2'],
    php_repository: 'sury',
    request_duration: 60,
    request_payload: 20,
    request_memory: 512,
    web_server: false,
    listen: null,
    database: null,
    databases: {},
    redis: null,
    redis_users: [],
    server_name: 'worker-1',
    server_host: '203.0.113.20',
    keep_releases: 4,
  });
  assert.deepEqual(Object.keys(apps), ['blog', 'shop']);
  const shop = apps.shop!;
  assert.deepEqual(
    { ...shop, servers: undefined },
    {
      name: 'shop',
      repo: 'git@github.com:org/shop.git',
      branch: 'main',
      php: '8.2',
      domain: 'shop.example.com',
      cluster: 'production',
      composer_command: DEFAULT_COMPOSER_COMMAND,
      release_commands: ['artisan config:cache', 'artisan route:cache'],
      cache_commands: ['artisan config:cache', 'artisan route:cache'],
      shared: ['storage/app/public', '.env'],
      keep_releases: 4,
      release_strategy: 'releases',
      release_nice: 10,
      opcache_warmup: null,
      auto_rollback: null,
      database: null,
      redis: null,
      health_check: { path: '/up', status: 200, timeout: 10 },
      home: '/home/shop',
      layout: appLayout('/home/shop'),
      servers: undefined,
      server: {
        name: 'worker-1',
        web: { max_workers: 10, min_spare_workers: 2, initial_workers: 3, max_spare_workers: 5 },
        deploy_commands: ['artisan migrate --force'],
        queues: [{ name: 'default', command: 'queue:work default --sleep=1 --timeout=20', workers: 5, stop_wait_timeout: 3600 }],
        scheduler: true,
      },
    },
  );
  assert.deepEqual((shop.servers as { name: string }[]).map((s) => s.name), ['web-1', 'web-2', 'worker-1']);

  const lab = inv.hosts.get('lab-1')!.vars;
  assert.equal(lab.listen, '127.0.0.2');
  assert.equal(lab.web_server, true);
  assert.equal(lab.php_repository, null);
  assert.deepEqual(Object.keys(lab.apps as object), ['demo']);
});

test('host variables of one host are not shared with another', () => {
  const inv = buildInventory(defs);
  const a = inv.hosts.get('web-1')!.vars.apps as Record<string, { release_commands: string[] }>;
  a.shop!.release_commands.push('changed');
  const b = inv.hosts.get('web-2')!.vars.apps as Record<string, { release_commands: string[] }>;
  assert.deepEqual(b.shop!.release_commands, ['artisan config:cache', 'artisan route:cache']);
  assert.deepEqual(defs.apps.get('shop')!.release_commands, ['artisan config:cache', 'artisan route:cache']);
});

test('ssh settings: built-in < flight.yml < server, paths from the definitions folder', () => {
  const inv = buildInventory(defs);
  const key = defsFixture('good', 'keys/deploy_ed25519');
  const knownHosts = path.join(os.homedir(), '.ssh', 'known_hosts');
  assert.deepEqual(inv.hosts.get('web-1')!.ssh, {
    user: 'deploy',
    port: 22,
    key,
    knownHosts,
    hostKeyPolicy: 'accept-new',
    connectTimeout: 10,
  });
  assert.deepEqual(inv.hosts.get('worker-1')!.ssh, {
    user: 'admin',
    port: 2222,
    key,
    knownHosts,
    hostKeyPolicy: 'accept-new',
    connectTimeout: 10,
    jump: { host: 'bastion.example.com', port: 22, user: 'jump', key },
  });
  assert.deepEqual(inv.hosts.get('lab-1')!.ssh, {
    user: 'root',
    port: 22,
    key: '/var/lib/flight-lab/ssh/id_ed25519',
    knownHosts: '/var/lib/flight-lab/ssh/known_hosts',
    hostKeyPolicy: 'accept-new',
    connectTimeout: 10,
  });
});

test('select works on the generated groups', () => {
  const inv = buildInventory(defs);
  const names = (p: string) => inv.select(p).map((h) => h.name);
  assert.deepEqual(names('app_shop:&web'), ['web-1', 'web-2']);
  assert.deepEqual(names('cluster_production:!workers'), ['web-1', 'web-2']);
  assert.deepEqual(names('all'), ['lab-1', 'web-1', 'web-2', 'worker-1']);
  assert.deepEqual(names('localhost'), ['localhost']);
  assert.throws(() => inv.select('app_nope'), /no host or group matches 'app_nope'/);
});

test('databases: the database group, each app\'s database group, where its servers connect, what its database server holds', () => {
  const { definitions } = checkDefinitions('/defs', [
    { file: 'clusters/c.yml', text: 'php: ["8.2"]\nservers:\n  - { name: web-1, host: 10.0.0.1, web_server: true }\n  - { name: db-1, host: 10.0.0.2, listen: 10.0.1.2, database: true }\n' },
    { file: 'apps/shop.yml', text: 'repo: x\nphp: "8.2"\ndomain: shop.test\ncluster: c\ndatabase: true\nservers: [{ name: web-1 }]\n' },
    { file: 'apps/blog.yml', text: 'repo: x\nphp: "8.2"\ndomain: blog.test\ncluster: c\nservers: [{ name: web-1 }]\n' },
  ]);
  const inv = buildInventory(definitions!);
  assert.deepEqual(inv.select('database').map((h) => h.name), ['db-1']);
  assert.deepEqual(inv.select('app_shop_database').map((h) => h.name), ['db-1']);
  assert.deepEqual(inv.select('app_blog_database'), [], 'an empty group for an app without a database');
  const web = inv.hosts.get('web-1')!.vars as DefinitionHostVars;
  assert.deepEqual(web.apps.shop!.database, { server: 'db-1', host: '10.0.1.2', port: 3306, name: 'shop', user: 'shop' });
  assert.equal(web.apps.blog!.database, null);
  assert.equal(web.database, null);
  const db = inv.hosts.get('db-1')!.vars as DefinitionHostVars;
  assert.deepEqual(db.database, { bind: '10.0.1.2', clients: ['10.0.0.1', '10.0.0.2'] });
  assert.deepEqual(db.databases, { shop: { name: 'shop', user: 'shop', clients: ['10.0.0.1', '10.0.0.2'], password_file: '/etc/flight/mariadb/shop.password' } });
  assert.deepEqual(db.apps, {}, 'the database server runs no app');
});

test('Redis: the redis group, each app\'s redis group, where its servers connect, the users its Redis server holds', () => {
  const { definitions, problems } = checkDefinitions('/defs', [
    { file: 'clusters/c.yml', text: 'php: ["8.2"]\nservers:\n  - { name: web-1, host: 10.0.0.1, web_server: true }\n  - { name: kv-1, host: 10.0.0.2, listen: 10.0.1.2, redis: true }\n' },
    { file: 'apps/shop.yml', text: 'repo: x\nphp: "8.2"\ndomain: shop.test\ncluster: c\nredis: true\nservers: [{ name: web-1 }]\n' },
    { file: 'apps/blog.yml', text: 'repo: x\nphp: "8.2"\ndomain: blog.test\ncluster: c\nredis: true\nservers: [{ name: web-1 }]\n' },
    { file: 'apps/wiki.yml', text: 'repo: x\nphp: "8.2"\ndomain: wiki.test\ncluster: c\nservers: [{ name: web-1 }]\n' },
  ]);
  assert.deepEqual(problems, []);
  const inv = buildInventory(definitions!);
  assert.deepEqual(inv.select('redis').map((h) => h.name), ['kv-1']);
  assert.deepEqual(inv.select('app_shop_redis').map((h) => h.name), ['kv-1']);
  assert.deepEqual(inv.select('app_wiki_redis'), [], 'an empty group for an app without Redis');
  const web = inv.hosts.get('web-1')!.vars as DefinitionHostVars;
  assert.deepEqual(web.apps.shop!.redis, { server: 'kv-1', host: '10.0.1.2', port: 6379, user: 'shop', prefix: 'shop:' });
  assert.equal(web.apps.wiki!.redis, null);
  assert.equal(web.redis, null);
  const kv = inv.hosts.get('kv-1')!.vars as DefinitionHostVars;
  assert.deepEqual(kv.redis, { bind: '10.0.1.2', port: 6379 });
  assert.deepEqual(kv.redis_users, [
    { name: 'blog', prefix: 'blog:', password_file: '/etc/flight/redis/blog.password' },
    { name: 'shop', prefix: 'shop:', password_file: '/etc/flight/redis/shop.password' },
  ], 'every app of the server, in name order: the whole ACL file');
});
