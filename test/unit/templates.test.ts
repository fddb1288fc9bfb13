/**
 * The server configuration templates, rendered exactly as playbooks render them (renderFile:
 * undefined variables are errors) against host variables shaped like the inventory's.
 */
import { appLayout } from '../../src/definitions/layout.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { renderFile, type Vars } from '../../src/templating.js';
import { TEMPLATES_DIR } from '../../src/paths.js';
import { FlightError } from '../../src/errors.js';
import type { DefinitionHostVars, HostApp } from '../../src/inventory/host-vars.js';

const DIRS = [TEMPLATES_DIR];

function demoApp(): HostApp {
  return {
    name: 'demo',
    repo: '/srv/demo.git',
    branch: null,
    php: '8.2',
    domain: 'demo.flight.test',
    cluster: 'lab',
    composer_command: 'install --no-dev',
    release_commands: ['artisan config:cache'],
    cache_commands: ['artisan config:cache'],
    shared: ['storage/logs', '.env'],
    keep_releases: 5,
    release_strategy: 'releases',
    release_nice: 10,
    health_check: null,
    opcache_warmup: null,
    auto_rollback: null,
    database: null,
    redis: null,
    home: '/home/demo',
    layout: appLayout('/home/demo'),
    servers: [],
    server: {
      name: 'lab-1',
      web: { max_workers: 15, min_spare_workers: 5, initial_workers: 7, max_spare_workers: 10 },
      deploy_commands: ['artisan migrate --force'],
      queues: [{ name: 'default', command: 'queue:work default --sleep=1 --timeout=20', workers: 5, stop_wait_timeout: 3600 }],
      scheduler: true,
    },
  };
}

/** One host's variables, plus what a playbook sets before rendering an app's templates. */
function vars(overrides: Partial<DefinitionHostVars> = {}): Vars {
  const app = demoApp();
  const host: DefinitionHostVars = {
    cluster_name: 'lab',
    php_versions: ['8.2'],
    php_repository: null,
    request_duration: 30,
    request_payload: 10,
    request_memory: 512,
    web_server: true,
    listen: '127.0.0.2',
    database: null,
    databases: {},
    redis: null,
    redis_users: [],
    server_name: 'lab-1',
    server_host: '127.0.0.2',
    keep_releases: 5,
    apps: { demo: app },
    ...overrides,
  };
  return { ...host, app: 'demo', application: app };
}

const render = (name: string, v: Vars = vars()) => renderFile(name, v, DIRS);

/** Lines without comments and surrounding blanks, for exact matching. */
function lines(text: string, comment: RegExp = /^\s*#/): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !comment.test(l));
}

function templateNames(dir = TEMPLATES_DIR, prefix = ''): string[] {
  const names: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) names.push(...templateNames(path.join(dir, entry.name), rel));
    else if (entry.name.endsWith('.j2')) names.push(rel);
  }
  return names.sort();
}

test('every template renders with the host variables and leaves no expression behind', () => {
  const names = templateNames();
  for (const expected of ['nginx/vhost.conf.j2', 'nginx/flight.conf.j2', 'php-fpm/pool.conf.j2', 'php/flight.ini.j2',
    'php/cli.ini.j2', 'php/fpm.ini.j2']) {
    assert.ok(names.includes(expected), `${expected} exists`);
  }
  for (const name of names) {
    const out = render(name, { ...vars({ database: { bind: '127.0.0.4', clients: ['127.0.0.1'] }, redis: { bind: '127.0.0.4', port: 6379 } }), php_sapi: 'fpm' });
    assert.doesNotMatch(out, /\{\{|\{%|\{#|undefined|NaN|\[object Object\]/, name);
    assert.ok(out.endsWith('\n'), `${name} ends with a newline`);
  }
});

test('mariadb: listens on the bind address only, never resolves client names', () => {
  const l = lines(render('mariadb/flight.cnf.j2', vars({ database: { bind: '10.0.1.2', clients: ['10.0.0.1'] } })));
  assert.deepEqual(l, ['[mysqld]', 'bind-address = 10.0.1.2', 'skip-name-resolve']);
});

test('redis: listens on the bind address only, users from the ACL file, jobs kept across restarts', () => {
  const l = lines(render('redis/redis.conf.j2', vars({ redis: { bind: '10.0.1.3', port: 6379 } })));
  assert.deepEqual(l.filter((x) => /^(bind|port|protected-mode|aclfile|appendonly) /.test(x)), [
    'bind 10.0.1.3', 'port 6379', 'protected-mode yes', 'aclfile /etc/redis/users.acl', 'appendonly yes',
  ]);
  assert.ok(!l.some((x) => /^(requirepass|user) /.test(x)), 'no password or user in the config: the ACL file holds them');
});

test('vhost: binds the server\'s own address when listen is set, never every address', () => {
  const l = lines(render('nginx/vhost.conf.j2'));
  assert.deepEqual(l.filter((x) => x.startsWith('listen ')), ['listen 127.0.0.2:80;']);
  assert.ok(!l.some((x) => x.includes('0.0.0.0')));
  assert.ok(l.includes('server_name demo.flight.test;'));
  assert.ok(l.includes('root /home/demo/current/public;'));
  assert.ok(l.includes('index index.php;'));
  assert.ok(l.includes('try_files $uri $uri/ /index.php?$query_string;'));
  assert.ok(l.includes('access_log /var/log/nginx/demo.access.log;'));
  assert.ok(l.includes('error_log /var/log/nginx/demo.error.log;'));
});

test('vhost: listen null means port 80 on every address; an IPv6 address gets brackets', () => {
  const all = lines(render('nginx/vhost.conf.j2', vars({ listen: null })));
  assert.deepEqual(all.filter((x) => x.startsWith('listen ')), ['listen 80;']);
  const v6 = lines(render('nginx/vhost.conf.j2', vars({ listen: '2001:db8::10' })));
  assert.deepEqual(v6.filter((x) => x.startsWith('listen ')), ['listen [2001:db8::10]:80;']);
});

test('vhost: PHP gets the resolved release path, through the app\'s own socket, with the request limits', () => {
  const l = lines(render('nginx/vhost.conf.j2'));
  assert.ok(l.includes('fastcgi_pass unix:/run/php/demo.sock;'));
  const include = l.indexOf('include /etc/nginx/fastcgi_params;');
  const script = l.indexOf('fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;');
  const docroot = l.indexOf('fastcgi_param DOCUMENT_ROOT $realpath_root;');
  assert.ok(include >= 0 && script > include && docroot > include, 'the $realpath_root params come after (and override) fastcgi_params');
  assert.ok(l.includes('client_max_body_size 10m;'));
  assert.ok(l.includes('fastcgi_read_timeout 30;'));
  assert.ok(l.some((x) => /^location ~ \/\\\.\(\?!well-known\)/.test(x)), 'dotfiles denied');
  assert.ok(l.includes('deny all;'));
});

test('flight.conf: the catch-all default server listens where the vhosts do', () => {
  const l = lines(render('nginx/flight.conf.j2'));
  assert.ok(l.includes('listen 127.0.0.2:80 default_server;'));
  assert.ok(l.includes('client_max_body_size 10m;'));
  assert.ok(l.includes('server_names_hash_bucket_size 128;'));
  assert.ok(lines(render('nginx/flight.conf.j2', vars({ listen: null }))).includes('listen 80 default_server;'));
});

test('pool: the app user, its socket for nginx only, pm from the web entry, the request limits', () => {
  const l = lines(render('php-fpm/pool.conf.j2'), /^\s*;/);
  for (const expected of [
    '[demo]',
    'user = demo',
    'group = demo',
    'listen = /run/php/demo.sock',
    'listen.owner = www-data',
    'listen.group = www-data',
    'listen.mode = 0660',
    'pm = dynamic',
    'pm.max_children = 15',
    'pm.start_servers = 7',
    'pm.min_spare_servers = 5',
    'pm.max_spare_servers = 10',
    'request_terminate_timeout = 35s',
    'php_admin_value[memory_limit] = 512M',
    'php_admin_value[max_execution_time] = 30',
    'php_admin_value[post_max_size] = 10M',
    'php_admin_value[upload_max_filesize] = 10M',
    'php_admin_value[open_basedir] = /home/demo/:/tmp/:/dev/urandom',
    'php_admin_value[error_log] = /home/demo/current/storage/logs/php-fpm.log',
    'catch_workers_output = yes',
  ]) {
    assert.ok(l.includes(expected), expected);
  }
  // Every directive once: FPM keeps the last of a repeated key, so a duplicate hides a setting.
  const keys = l.filter((x) => x.includes('=')).map((x) => x.slice(0, x.indexOf('=')).trim());
  assert.deepEqual(keys.filter((k, i) => keys.indexOf(k) !== i), []);
});

test('pool: request_terminate_timeout follows request_duration even when it arrives as text', () => {
  const l = lines(render('php-fpm/pool.conf.j2', vars({ request_duration: '60' as unknown as number })), /^\s*;/);
  assert.ok(l.includes('request_terminate_timeout = 65s'));
});

test('php ini: web limits for FPM only; the command line keeps no time or memory limit', () => {
  const fpm = lines(render('php/fpm.ini.j2'), /^\s*;/);
  for (const expected of ['memory_limit = 512M', 'max_execution_time = 30', 'post_max_size = 10M', 'upload_max_filesize = 10M',
    'opcache.enable = 1', 'opcache.validate_timestamps = 1', 'opcache.revalidate_freq = 0']) {
    assert.ok(fpm.includes(expected), expected);
  }
  const cli = lines(render('php/cli.ini.j2'), /^\s*;/);
  assert.ok(!cli.some((x) => /^(memory_limit|max_execution_time)\b/.test(x)), 'no request limits on the command line');
  assert.ok(cli.includes('opcache.enable_cli = 0'));
  assert.match(render('php/cli.ini.j2'), /\(cli\)/);
});

test('a missing variable is an error naming the template, never a silent default', () => {
  const cases: Array<[string, string]> = [
    ['nginx/vhost.conf.j2', 'request_payload'],
    ['nginx/vhost.conf.j2', 'request_duration'],
    // Above all: an absent listen must not quietly become `listen 80` (every address).
    ['nginx/vhost.conf.j2', 'listen'],
    ['nginx/vhost.conf.j2', 'application'],
    ['nginx/flight.conf.j2', 'listen'],
    ['php-fpm/pool.conf.j2', 'request_memory'],
    ['php-fpm/pool.conf.j2', 'request_duration'],
    ['php-fpm/pool.conf.j2', 'application'],
    ['php/fpm.ini.j2', 'request_memory'],
    ['php/cli.ini.j2', 'request_payload'],
    ['php/flight.ini.j2', 'php_sapi'],
  ];
  for (const [name, missing] of cases) {
    const v: Vars = { ...vars(), php_sapi: 'fpm' };
    delete v[missing];
    assert.throws(
      () => render(name, v),
      (err: unknown) => err instanceof FlightError && err.kind === 'invalid' && err.message.includes(name) && /undefined/.test(err.message),
      `${name} without ${missing}`,
    );
  }
  // A missing member deep inside the app is caught too.
  const v = vars();
  const app = structuredClone(v.application) as HostApp;
  delete (app.server.web as Partial<HostApp['server']['web']>).max_workers;
  assert.throws(() => render('php-fpm/pool.conf.j2', { ...v, application: app }), FlightError);
});

test('php-fpm global: reloads wait for running requests as long as a request may run', () => {
  const l = lines(render('php-fpm/global.conf.j2', vars({ request_duration: '60' as unknown as number })), /^\s*;/);
  assert.deepEqual(l, ['[global]', 'process_control_timeout = 65s']);
});
