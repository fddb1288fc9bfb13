import { appLayout } from '../../../src/definitions/layout.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDefinitions, loadDefinitions, DEFAULT_COMPOSER_COMMAND } from '../../../src/definitions/index.js';
import { isCacheCommand } from '../../../src/definitions/normalize.js';
import { exitCodeOf, FlightError } from '../../../src/errors.js';
import { formatProblem, ProblemsError } from '../../../src/problems.js';
import { defsFixture } from './fixtures.js';

test('a good definitions folder loads, with defaults applied', async () => {
  const defs = await loadDefinitions(defsFixture('good'));
  assert.equal(defs.dir, defsFixture('good'));
  assert.deepEqual([...defs.clusters.keys()], ['lab', 'production']);
  assert.deepEqual([...defs.apps.keys()], ['blog', 'demo', 'shop']);

  assert.deepEqual(defs.config, {
    ssh: { user: 'deploy', key: defsFixture('good', 'keys/deploy_ed25519'), host_key_policy: 'accept-new' },
    keep_releases: 4,
    forks: 25,
    serve: { trusted_proxies: [], tokens: { shop: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }, github: {} },
  });

  const prod = defs.clusters.get('production')!;
  assert.equal(prod.file, 'clusters/production.yml');
  assert.deepEqual(prod.php, ['7.4', '8.2']);
  assert.equal(prod.php_repository, 'sury');
  assert.deepEqual(prod.servers.map((s) => [s.name, s.web_server, s.listen]), [
    ['web-1', true, '203.0.113.10'],
    ['web-2', true, null],
    ['worker-1', false, null],
  ]);

  const blog = defs.apps.get('blog')!;
  assert.deepEqual(
    { ...blog, servers: undefined },
    {
      name: 'blog',
      file: 'apps/blog.yml',
      repo: defsFixture('blog-repo'),
      branch: null,
      php: '7.4',
      domain: 'blog.example.com',
      cluster: 'production',
      composer_command: DEFAULT_COMPOSER_COMMAND,
      release_commands: [],
      cache_commands: [],
      shared: [],
      keep_releases: 10,
      release_strategy: 'alternate',
      release_nice: 10,
      health_check: null,
      opcache_warmup: null,
      auto_rollback: null,
      database: null,
      redis: null,
      home: '/home/blog',
      layout: appLayout('/home/blog'),
      servers: undefined,
    },
  );
  assert.deepEqual(blog.servers[1], {
    name: 'worker-1',
    web: { max_workers: 10, min_spare_workers: 2, initial_workers: 3, max_spare_workers: 5 },
    deploy_commands: [],
    queues: [{ name: 'mail', command: 'queue:work mail', workers: 1, stop_wait_timeout: 60 }],
    scheduler: false,
  });

  const shop = defs.apps.get('shop')!;
  assert.equal(shop.repo, 'git@github.com:org/shop.git');
  assert.equal(shop.branch, 'main');
  assert.equal(shop.keep_releases, 4, 'from flight.yml');
  assert.equal(shop.release_strategy, 'releases');
  assert.deepEqual(shop.health_check, { path: '/up', status: 200, timeout: 10 });
  assert.deepEqual(shop.servers[0]!.web, { max_workers: 15, min_spare_workers: 5, initial_workers: 7, max_spare_workers: 10 });
});

test('the cluster file written by the lab loads as is', () => {
  const text = `php: ["8.2"]
request_duration: 30
request_payload: 10
request_memory: 256
servers:
  - name: lab-1
    host: 127.0.0.2
    web_server: true
    listen: 127.0.0.2
    ssh: { user: root, port: 22, key: /var/lib/flight-lab/ssh/id_ed25519, known_hosts: /var/lib/flight-lab/ssh/known_hosts }
  - name: lab-2
    host: 127.0.0.3
    web_server: false
    ssh: { user: root, port: 22, key: /var/lib/flight-lab/ssh/id_ed25519, known_hosts: /var/lib/flight-lab/ssh/known_hosts }
    database: { clients: ["127.0.0.1"] }
    redis: true
`;
  const result = checkDefinitions('/defs', [{ file: 'clusters/lab.yml', text }]);
  assert.deepEqual(result.problems, []);
  assert.deepEqual(result.definitions!.clusters.get('lab'), {
    name: 'lab',
    file: 'clusters/lab.yml',
    php: ['8.2'],
    request_duration: 30,
    request_payload: 10,
    request_memory: 256,
    php_repository: null,
    servers: [
      {
        name: 'lab-1',
        host: '127.0.0.2',
        web_server: true,
        listen: '127.0.0.2',
        database: null,
        redis: null,
        ssh: { user: 'root', port: 22, key: '/var/lib/flight-lab/ssh/id_ed25519', known_hosts: '/var/lib/flight-lab/ssh/known_hosts' },
      },
      {
        name: 'lab-2',
        host: '127.0.0.3',
        web_server: false,
        listen: null,
        database: { bind: '127.0.0.3', clients: ['127.0.0.1'] },
        redis: { bind: '127.0.0.3' },
        ssh: { user: 'root', port: 22, key: '/var/lib/flight-lab/ssh/id_ed25519', known_hosts: '/var/lib/flight-lab/ssh/known_hosts' },
      },
    ],
  });
  // No flight.yml: its defaults.
  assert.deepEqual(result.definitions!.config, { ssh: {}, keep_releases: 5, forks: 25, serve: { trusted_proxies: [], tokens: {}, github: {} } });
});

test('an empty folder gives empty definitions; a missing one is an error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-defs-'));
  try {
    const defs = await loadDefinitions(dir);
    assert.equal(defs.clusters.size, 0);
    assert.equal(defs.apps.size, 0);
    await assert.rejects(loadDefinitions(path.join(dir, 'nope')), (e: unknown) => {
      assert.ok(e instanceof FlightError);
      assert.equal(e.kind, 'invalid');
      assert.match(e.message, /definitions folder not found/);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const QUOTE_HINT = `must be a string, not the number`;
const WEB_ORDER = 'php-fpm needs min_spare_workers <= initial_workers <= max_spare_workers <= max_workers';

/** Each folder under fixtures/defs/bad, with every problem it must report, in order. */
const BAD: Record<string, string[]> = {
  'unknown-key': [
    "apps/myapp.yml:4:1: unknown key 'domian' (expected one of: repo, branch, php, domain, cluster, composer_command, release_commands, shared, keep_releases, release_strategy, release_nice, opcache_warmup, health_check, auto_rollback, database, redis, servers); did you mean 'domain'?",
    "apps/myapp.yml:9:7: servers[0].web: unknown key 'max_worker' (expected one of: max_workers, min_spare_workers, initial_workers, max_spare_workers); did you mean 'max_workers'?",
    "apps/myapp.yml:10:5: servers[0]: unknown key 'sheduler' (expected one of: name, web, deploy_commands, queues, scheduler); did you mean 'scheduler'?",
  ],
  'wrong-type': [
    'flight.yml:2:9: ssh.port: must be integer between 1 and 65535, got "22"',
    'flight.yml:3:20: ssh.host_key_policy: must be one of: strict, accept-new, off',
    'flight.yml:4:16: keep_releases: must be integer >= 2',
    'apps/myapp.yml:5:19: release_commands: must be a list, got a string',
    'apps/myapp.yml:9:20: servers[0].web.max_workers: must be integer >= 1',
    'apps/myapp.yml:10:24: servers[0].web.initial_workers: must be integer >= 1, got three',
    'apps/myapp.yml:11:16: servers[0].scheduler: must be true or false, got "yes"',
    "apps/myapp.yml:13:15: servers[0].queues[0].name: must be a queue name of lowercase letters, digits, '_' and '-'",
    'apps/myapp.yml:15:18: servers[0].queues[0].workers: must be integer >= 1, got 2.5',
  ],
  'php-number': [
    `clusters/lab.yml:1:7: php[0]: ${QUOTE_HINT} 8.2: quote it: "8.2"`,
    // YAML reads 8.10 as 8.1: the message shows both.
    `clusters/lab.yml:1:12: php[1]: ${QUOTE_HINT} 8.1: quote it: "8.10"`,
    `apps/myapp.yml:2:6: php: ${QUOTE_HINT} 8.2: quote it: "8.2"`,
  ],
  'missing-required': [
    "clusters/lab.yml:8:5: servers[2]: missing required key 'host'",
    "apps/myapp.yml:1:1: missing required key 'domain'",
    "apps/myapp.yml:5:5: servers[0]: missing required key 'name'",
  ],
  'server-not-in-cluster': ["apps/myapp.yml:7:11: servers[1].name: server 'lab-9' is not in cluster 'lab' (its servers: lab-1, lab-2)"],
  'php-not-installed': [`apps/myapp.yml:2:6: php: PHP "8.3" is not installed by cluster 'lab' (clusters/lab.yml has php: ["8.2"])`],
  'bad-app-name': [
    "apps/9lives.yml:1:1: app name '9lives' (from the file name) must match ^[a-z][a-z0-9_]{0,30}$: it becomes a Linux user name",
    "apps/My-App.yml:1:1: app name 'My-App' (from the file name) must match ^[a-z][a-z0-9_]{0,30}$: it becomes a Linux user name",
    "apps/root.yml:1:1: app name 'root' (from the file name) is a reserved system user name: rename the file",
  ],
  'yaml-syntax': [
    "apps/dupkey.yml:5:1: YAML syntax error: duplicate key 'php' (map keys must be unique)",
    'apps/indent.yml:7:1: YAML syntax error: Sequence item without - indicator',
    'apps/quote.yml:2:6: YAML syntax error: Missing closing "quote (the quote opened here is never closed)',
  ],
  'pm-order': [
    `apps/myapp.yml:8:20: servers[0].web: max_spare_workers (5, the default) must be <= max_workers (4): ${WEB_ORDER}`,
    `apps/myapp.yml:12:24: servers[1].web: min_spare_workers (6) must be <= initial_workers (4): ${WEB_ORDER}`,
  ],
  'shared-paths': [
    "apps/myapp.yml:7:5: shared[1]: must be a path inside the app: letters, digits and '._@+=,~-/', relative (no leading '/' or '-'), no '.' or '..' segment, no empty segment or trailing '/'",
    "apps/myapp.yml:8:5: shared[2]: must be a path inside the app: letters, digits and '._@+=,~-/', relative (no leading '/' or '-'), no '.' or '..' segment, no empty segment or trailing '/'",
    "apps/myapp.yml:9:5: shared[3]: must be a path inside the app: letters, digits and '._@+=,~-/', relative (no leading '/' or '-'), no '.' or '..' segment, no empty segment or trailing '/'",
    'apps/myapp.yml:11:5: shared[5]: repeats item 4 of shared',
  ],
  'unknown-cluster': ["apps/myapp.yml:4:10: cluster: no cluster 'prod' (no file clusters/prod.yml; clusters: lab)"],
  'duplicate-domain': [
    "apps/two.yml:3:9: domain: 'shop.example.com' is also the domain of app 'one' (apps/one.yml:3:9) on cluster 'lab'",
  ],
  'duplicate-servers': [
    "clusters/lab.yml:5:11: servers[1].name: duplicate server name 'lab-1' (also servers[0], line 3)",
    "clusters/lab.yml:8:11: servers[2].host: duplicate host 127.0.0.2 (port 22): also server 'lab-1' (line 4)",
    "clusters/lab.yml:12:11: servers[4].name: 'web' is reserved (a group or the implicit localhost): choose another server name",
    "clusters/other.yml:3:11: servers[0].name: server name 'lab-3' is also used in clusters/lab.yml:7:11 (server names must be unique across clusters)",
  ],
  'empty-file': ['apps/myapp.yml:1:1: the file is empty: expected a mapping with repo, php, domain, cluster, servers'],
  'serve-tokens': [
    "flight.yml:5:5: serve.tokens: key 'Shop' must be an app name",
    'flight.yml:6:11: serve.tokens.blog: must be the sha256 of the token, in hex (64 characters), never the token itself',
  ],
  // Problems in four files of both kinds, all in one report.
  'many-files': [
    'flight.yml:1:16: keep_releases: must be integer >= 2',
    'flight.yml:2:8: forks: must be integer >= 1',
    'clusters/lab.yml:2:17: request_memory: must be integer >= 1 (MB), got 256MB',
    "clusters/lab.yml:4:11: servers[0].name: must be a server name of lowercase letters, digits and inner '-', up to 63 characters (like web-1)",
    "clusters/staging.yml:6:13: servers[0].ssh.jump: missing required key 'host'",
    "clusters/staging.yml:6:15: servers[0].ssh.jump: unknown key 'hots' (expected one of: host, port, user, key); did you mean 'host'?",
    "apps/alpha.yml:8:9: servers[0].queues[0]: missing required key 'command'",
    'apps/beta.yml:5:19: release_strategy: must be one of: releases, alternate',
  ],
};

for (const [name, expected] of Object.entries(BAD)) {
  test(`bad definitions: ${name}`, async () => {
    const err = await loadDefinitions(defsFixture('bad', name)).then(
      () => assert.fail('loaded without error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ProblemsError, String(err));
    assert.equal(err.kind, 'invalid');
    assert.equal(exitCodeOf(err), 5);
    assert.deepEqual(err.problems.map(formatProblem), expected);
    // The message lists every problem, after a heading that names the folder.
    assert.equal(
      err.message,
      `invalid definitions in ${defsFixture('bad', name)} (${expected.length} ${expected.length === 1 ? 'error' : 'errors'}):\n` +
        expected.map((l) => `  ${l}`).join('\n'),
    );
  });
}

test('every bad fixture folder has a case', () => {
  assert.deepEqual(fs.readdirSync(defsFixture('bad')).sort(), Object.keys(BAD).sort());
});

test('problems are data: file, line, col, path and message apart', () => {
  const { problems } = checkDefinitions('/defs', [
    { file: 'clusters/c.yml', text: 'php: ["8.2"]\nservers:\n  - name: s1\n    host: h\n    web_server: 1\n' },
  ]);
  assert.deepEqual(problems, [{ file: 'clusters/c.yml', line: 5, col: 17, path: 'servers[0].web_server', message: 'must be true or false, got 1' }]);
});

test('a jump host can be cancelled per server with false', () => {
  const { problems, definitions } = checkDefinitions('/defs', [
    { file: 'flight.yml', text: 'ssh: { jump: { host: bastion } }\n' },
    { file: 'clusters/c.yml', text: 'php: ["8.2"]\nservers:\n  - { name: s1, host: h, ssh: { jump: false } }\n  - { name: s2, host: h2, ssh: { jump: true } }\n' },
  ]);
  assert.deepEqual(problems.map(formatProblem), [
    'clusters/c.yml:4:40: servers[1].ssh.jump: must be false (no jump host) or a mapping with host, port, user, key',
  ]);
  assert.equal(definitions, undefined);
});

test('relative paths resolve against the definitions folder, ~ against the home folder', () => {
  const { definitions } = checkDefinitions('/defs', [
    { file: 'flight.yml', text: 'ssh: { key: keys/id, known_hosts: ~/kh, jump: { host: b, key: ../jump } }\n' },
    { file: 'clusters/c.yml', text: 'php: ["8.2"]\nservers:\n  - { name: s1, host: h }\n' },
    { file: 'apps/a.yml', text: 'repo: ../repos/a\nphp: "8.2"\ndomain: a.test\ncluster: c\nservers: [{ name: s1 }]\n' },
    { file: 'apps/b.yml', text: 'repo: https://example.com/b.git\nphp: "8.2"\ndomain: b.test\ncluster: c\nservers: [{ name: s1 }]\n' },
    { file: 'apps/d.yml', text: 'repo: git@example.com:org/d.git\nphp: "8.2"\ndomain: d.test\ncluster: c\nservers: [{ name: s1 }]\n' },
  ]);
  assert.deepEqual(definitions!.config.ssh, {
    key: '/defs/keys/id',
    known_hosts: path.join(os.homedir(), 'kh'),
    jump: { host: 'b', key: '/jump' },
  });
  assert.equal(definitions!.apps.get('a')!.repo, '/repos/a');
  assert.equal(definitions!.apps.get('b')!.repo, 'https://example.com/b.git');
  assert.equal(definitions!.apps.get('d')!.repo, 'git@example.com:org/d.git');
});

test('a broken cluster file does not also make its apps report an unknown cluster', () => {
  const { problems } = checkDefinitions('/defs', [
    { file: 'clusters/c.yml', text: 'php: 8.2\nservers:\n  - { name: s1, host: h }\n' },
    { file: 'apps/a.yml', text: 'repo: x\nphp: "8.2"\ndomain: a.test\ncluster: c\nservers: [{ name: s1 }]\n' },
  ]);
  assert.deepEqual(problems.map(formatProblem), ['clusters/c.yml:1:6: php: must be a non-empty list, got a number']);
});

test('the same app in .yml and .yaml is an error', () => {
  const app = 'repo: x\nphp: "8.2"\ndomain: a.test\ncluster: c\nservers: [{ name: s1 }]\n';
  const { problems } = checkDefinitions('/defs', [
    { file: 'clusters/c.yml', text: 'php: ["8.2"]\nservers:\n  - { name: s1, host: h }\n' },
    { file: 'apps/a.yaml', text: app },
    { file: 'apps/a.yml', text: app },
  ]);
  assert.deepEqual(problems.map(formatProblem), ["apps/a.yml:1:1: both apps/a.yaml and apps/a.yml define app 'a': keep one"]);
});

test('cache commands: the release commands that build Laravel caches, in order', () => {
  const commands = ['artisan config:cache', 'npm run build', 'artisan route:cache --quiet', 'artisan optimize', 'artisan view:cache', 'artisan config:clear', 'php artisan config:cache', 'artisan config:cached'];
  assert.deepEqual(commands.filter(isCacheCommand), ['artisan config:cache', 'artisan route:cache --quiet', 'artisan optimize', 'artisan view:cache', 'php artisan config:cache']);
});

test('databases and Redis: a cluster server that runs one, an app that uses it, and the wrong references', () => {
  const cluster = (servers: string) => ({ file: 'clusters/c.yml', text: `php: ["8.2"]\nservers:\n${servers}` });
  const app = (name: string, kind: string, use: string) => ({ file: `apps/${name}.yml`, text: `repo: x\nphp: "8.2"\ndomain: ${name}.test\ncluster: c\n${kind}: ${use}\nservers: [{ name: s1 }]\n` });
  const ok = checkDefinitions('/defs', [
    cluster('  - { name: s1, host: 10.0.0.1, listen: 10.0.0.11, redis: true }\n  - { name: db1, host: 10.0.0.2, database: true }\n  - { name: db2, host: 10.0.0.3, database: { bind: 10.0.1.3, clients: [10.0.1.0/255.255.255.0] }, redis: { bind: 10.0.1.3 } }\n'),
    app('a', 'database', '{ server: db2 }'),
    app('b', 'redis', '{ server: s1 }'),
  ]);
  assert.deepEqual(ok.problems, []);
  const servers = ok.definitions!.clusters.get('c')!.servers;
  assert.deepEqual(servers.map((s) => s.database), [
    null,
    { bind: '10.0.0.2', clients: null },
    { bind: '10.0.1.3', clients: ['10.0.1.0/255.255.255.0'] },
  ]);
  assert.deepEqual(servers.map((s) => s.redis), [{ bind: '10.0.0.11' }, null, { bind: '10.0.1.3' }], 'Redis binds listen, else host, unless set');
  assert.deepEqual(ok.definitions!.apps.get('a')!.database, { server: 'db2' });
  assert.deepEqual(ok.definitions!.apps.get('b')!.redis, { server: 's1' });

  for (const [kind, label] of [['database', 'database'], ['redis', 'Redis']] as const) {
    const col = kind.length + 3;
    const bad = checkDefinitions('/defs', [
      cluster(`  - { name: s1, host: h1 }\n  - { name: db1, host: h2, ${kind}: true }\n  - { name: db2, host: h3, ${kind}: true }\n`),
      app('a', kind, 'true'),
      app('b', kind, '{ server: s1 }'),
      app('c', kind, '{ server: nope }'),
      app('d', kind, '{ host: db1 }'),
    ]);
    assert.deepEqual(bad.problems.map(formatProblem), [
      `apps/a.yml:5:${col}: ${kind}: cluster 'c' has 2 ${label} servers (db1, db2): name one with \`${kind}: { server: NAME }\``,
      `apps/b.yml:5:${col + 10}: ${kind}.server: server 's1' of cluster 'c' is not a ${label} server (give it \`${kind}: true\` in the cluster file)`,
      `apps/c.yml:5:${col + 10}: ${kind}.server: no server 'nope' in cluster 'c' (its servers: s1, db1, db2)`,
      `apps/d.yml:5:${col}: ${kind}: missing required key 'server'`,
      `apps/d.yml:5:${col + 2}: ${kind}: unknown key 'host' (expected one of: server)`,
    ], kind);
    const none = checkDefinitions('/defs', [cluster('  - { name: s1, host: h1 }\n'), app('a', kind, 'true')]);
    assert.deepEqual(none.problems.map(formatProblem), [`apps/a.yml:5:${col}: ${kind}: cluster 'c' has no ${label} server (give one of its servers \`${kind}: true\`)`], kind);
  }
});
