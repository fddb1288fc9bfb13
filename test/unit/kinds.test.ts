/**
 * The kinds of value (src/kinds.ts): tables of good and bad examples for each, then properties
 * over many generated strings (fast-check): whatever a kind accepts carries no control
 * character, no line break and nothing its target reads as syntax, and the schemas refuse with
 * the kind's words what the kind refuses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import fc from 'fast-check';
import { dbClientError, kind, kindError, KINDS, type KindName } from '../../src/kinds.js';
import { createAjv } from '../../src/json-schema.js';

const accepts = (name: KindName, v: string) => KINDS.get(name)!.test(v);

/** Strings people and attackers write: shell, config and YAML syntax, controls, unicode. */
const HOSTILE = [
  '', ' ', '-', '--upload-pack=touch /tmp/x', '-oProxyCommand=id', '$(id)', '`id`', 'a;b', 'a|b', 'a&b', 'a\nb', 'a\rb', 'a\tb', 'a\0b',
  '\u2028', '\u0085', 'a b', "a'b", 'a"b', 'a{b', 'a}b', '../etc', '/etc/passwd', '%(ENV_X)s', 'a #c', 'a ;c', 'ext::sh -c id',
  'x'.repeat(5000),
];

const table: Record<KindName, { good: string[]; bad: string[] }> = {
  host: {
    good: ['web-1', 'db.internal', 'a.b.example.com', '10.0.0.1', '::1', 'fe80::1', 'xn--bcher-kva.example', `${'a'.repeat(63)}.example`],
    bad: ['-web', 'web-', 'a..b', `${'a'.repeat(64)}.example`, `${'a.'.repeat(127)}a`, 'a_b.example', '256.1.1.1', '1.2.3', 'fe80::1%eth0', 'host:22', '[::1]', 'web 1', 'web\n1'],
  },
  ip: { good: ['10.0.1.2', '::1', 'fe80::1'], bad: ['db.internal', '10.0.1.2:80', '[::1]', '*', '0.0.0.0 default_server'] },
  address: { good: ['10.0.1.2', '::1', 'db.internal'], bad: ['10.0.1.2:80', '*', '0.0.0.0 default_server', 'a;b'] },
  domain: {
    good: ['shop.example.com', 'localhost', '*.shop.example.com', 'xn--bcher-kva.example', `${'a'.repeat(63)}.example`],
    bad: ['Shop.example.com', 'shop.example.com.', '*.', 'a.*.example', '-shop.example', 'shop-.example', `${'a'.repeat(64)}.example`, `${'a.'.repeat(127)}a`, 'shop example', 'shop;example', 'shop.example\nserver_name x'],
  },
  'app-name': { good: ['shop', 'a', 'shop_2'], bad: ['Shop', '1shop', 'shop-2', '_shop', `a${'b'.repeat(31)}`] },
  'cluster-name': { good: ['production', 'eu-1', 'lab_2'], bad: ['Prod', '-eu', 'eu 1', 'a/b'] },
  'server-name': { good: ['web-1', 'db', 'a', '1', `${'a'.repeat(63)}`], bad: ['Web-1', 'web_1', 'web-', '-web', 'web.1', `${'a'.repeat(64)}`] },
  'user-name': { good: ['root', 'deploy', '_flight', 'a-b_c'], bad: ['Root', '1user', '-u', 'a b', 'a:b', `${'a'.repeat(33)}`] },
  repo: {
    good: [
      'git@github.com:acme/shop.git', 'ssh://git@github.com/acme/shop.git', 'ssh://git@host:2222/srv/shop.git', 'https://github.com/acme/shop.git',
      'https://user:token@github.com/acme/shop.git', 'git://host/shop.git', 'file:///srv/git/shop.git', '/srv/git/shop.git', '../.flight/demo-repo', 'repo',
      'ssh://git@[::1]/srv/shop.git', 'git@[fe80::1]:shop.git',
    ],
    bad: [
      '--upload-pack=touch /tmp/pwned', '-u', 'ext::sh -c touch% /tmp/pwned', 'fd::17', 'transport::x', 'ftp://host/x', 'https://', 'https://host', 'https://-host/x',
      'file://relative', 'git@-host:x', 'git@host:-x', 'host:--upload-pack=x', 'https://host:99999/x', 'a b', 'a\nb',
    ],
  },
  branch: {
    good: ['main', 'release/1.2', 'feature/x-y_z', 'v1.0'],
    bad: ['-main', 'a..b', 'a b', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[b', 'a\\b', 'a/', 'a.', '.a', 'a/.b', 'a.lock', 'a@{1}', '@', 'a//b', 'a\nb'],
  },
  sha: { good: ['1a2b', '1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d'], bad: ['1a2', 'ABCD', 'g123', `${'a'.repeat(41)}`, ' 1a2b'] },
  'release-id': { good: ['20261126T052400Z-1a2b3c4d5e6f', 'A', 'B'], bad: ['-x', '../x', 'a b', 'a/b', ''] },
  'php-version': { good: ['8.2', '7.4', '8.10'], bad: ['8', '8.2.1', 'v8.2', '8.2 ', '8.x'] },
  'command-line': { good: ['artisan config:cache', 'php artisan migrate --force', 'npm run build && true'], bad: ['', '   ', 'a\nb', 'a\rb', 'a\u0000b', 'x'.repeat(5000)] },
  'artisan-command': {
    good: ['queue:work', 'queue:work --sleep=1 --tries=3', 'horizon', 'queue:work redis --queue=high,default', 'a b'],
    bad: ['', ' queue:work', 'queue:work ', '-v', 'Queue:work', 'queue:work ; rm -rf /', 'queue:work # x', 'queue:work\nnumprocs=99', 'queue:work  --x', '/bin/sh', 'queue:work --name=%(ENV_HOME)s'],
  },
  'url-path': { good: ['/', '/health', '/up?x=1', '/etc/passwd'], bad: ['', 'health', '/a b', '/a\nb', '/\u00e9'] },
  'relative-path': {
    good: ['.env', 'storage/app/public', 'storage/logs', 'public/uploads'],
    bad: ['', '/etc', 'storage/', 'a//b', './a', 'a/./b', '../a', 'a/..', 'a/\nb', ' a', 'a/b '],
  },
  'local-path': { good: ['keys/deploy', '/root/.ssh/id_ed25519', 'my key'], bad: ['', 'a\nb', 'a\u0000'] },
  'db-client': { good: ['10.0.0.11', '10.0.1.0/255.255.255.0', '::1', 'web-1.example.com', 'localhost'], bad: ['%', '10.0.0.%', '10.0.0.0/24', '10.0.1.5/255.255.255.0', '10.0.0.0/255.0.255.0'] },
};

test('every kind has a table, and each example is read as the table says', () => {
  assert.deepEqual([...KINDS.keys()].sort(), Object.keys(table).sort());
  for (const [name, { good, bad }] of Object.entries(table) as [KindName, { good: string[]; bad: string[] }][]) {
    for (const v of good) assert.ok(accepts(name, v), `${name} accepts ${JSON.stringify(v)}`);
    // Commands and local paths are free-form on one line: only the table's own bad examples.
    const freeForm = name === 'command-line' || name === 'local-path' || name === 'artisan-command';
    for (const v of [...bad, ...(freeForm ? [] : HOSTILE.filter((h) => !good.includes(h)))]) {
      if (name === 'repo' && ['../etc', '/etc/passwd'].includes(v)) continue; // local paths
      assert.ok(!accepts(name, v), `${name} refuses ${JSON.stringify(v)}`);
    }
  }
});

test('the address kinds agree with node\'s own parsers', () => {
  fc.assert(fc.property(fc.ipV4(), (ip) => accepts('host', ip) && isIPv4(ip)));
  fc.assert(fc.property(fc.ipV6(), (ip) => !ip.includes('.') ? accepts('host', ip) === isIPv6(ip) : true));
  fc.assert(fc.property(fc.domain(), (d) => accepts('host', d) || /^[0-9.]+$/.test(d) || d.length > 253));
});

/** Any string: ASCII with every control character, and full unicode. */
const anyString = fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom(...HOSTILE));

test('property: whatever any kind accepts holds no control character, line break or NUL', () => {
  fc.assert(fc.property(anyString, (v) => {
    for (const name of KINDS.keys()) {
      if (accepts(name, v)) assert.doesNotMatch(v, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `${name} accepted ${JSON.stringify(v)}`);
    }
  }), { numRuns: 3000 });
});

test('property: what reaches a command line never starts with "-" (an option) and holds no shell or config syntax where the target reads it', () => {
  fc.assert(fc.property(anyString, (v) => {
    for (const name of ['host', 'ip', 'address', 'domain', 'server-name', 'user-name', 'repo', 'branch', 'sha', 'php-version', 'db-client'] as const) {
      if (accepts(name, v)) assert.ok(!v.startsWith('-'), `${name} accepted ${JSON.stringify(v)}`);
    }
    // nginx (server_name, listen), MariaDB/Redis binds, SSH hosts: no whitespace, quotes, braces or ';'.
    for (const name of ['host', 'ip', 'address', 'domain', 'server-name', 'db-client'] as const) {
      if (accepts(name, v)) assert.doesNotMatch(v, /[\s'"{};$`\\]/, `${name} accepted ${JSON.stringify(v)}`);
    }
    // git: no transport that runs a program.
    if (accepts('repo', v)) assert.doesNotMatch(v, /^[A-Za-z][A-Za-z0-9+.-]*::/, `repo accepted ${JSON.stringify(v)}`);
    // supervisord: no inline comment, no trailing space.
    if (accepts('artisan-command', v)) assert.doesNotMatch(v, /\s[;#]|\s$/, `artisan-command accepted ${JSON.stringify(v)}`);
    // A shared path stays inside the app.
    if (accepts('relative-path', v)) assert.ok(!v.startsWith('/') && !v.split('/').includes('..'), `relative-path accepted ${JSON.stringify(v)}`);
  }), { numRuns: 3000 });
});

test('property: a DNS name made of valid labels is a host and, lowercased, a domain; one label too long is neither', () => {
  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/);
  fc.assert(fc.property(fc.array(label, { minLength: 1, maxLength: 6 }), (labels) => {
    const name = labels.join('.');
    if (/^[0-9.]+$/.test(name)) return;
    assert.ok(accepts('host', name) && accepts('domain', name) && accepts('domain', `*.${name}`), name);
    assert.ok(!accepts('domain', `${'a'.repeat(64)}.${name}`) && !accepts('host', `${'a'.repeat(64)}.${name}`), name);
  }));
});

test('schemas: a format names the kind, and the kind\'s words are what a user reads', () => {
  const validate = createAjv().compile({ type: 'object', properties: { host: kind('host'), path: kind('url-path', 'a URL path for the health check') } });
  assert.equal(validate({ host: 'web-1', path: '/up' }), true);
  assert.equal(validate({ host: '-oProxyCommand=id', path: 'up' }), false);
  assert.deepEqual(validate.errors!.map((e) => [e.instancePath, (e.parentSchema as { expected: string }).expected]), [
    ['/host', KINDS.get('host')!.expected],
    ['/path', 'a URL path for the health check'],
  ]);
});

test('kindError: names what was given, shortened, and what was expected', () => {
  assert.equal(kindError('sha', '1a2b', 'the sha'), undefined);
  assert.equal(kindError('sha', 'xyz', 'the sha'), `the sha "xyz" is not valid: expected ${KINDS.get('sha')!.expected}`);
  assert.match(kindError('sha', 'x'.repeat(200), 'the sha')!, /"x{80}…"/);
  assert.match(kindError('sha', 42, 'the sha')!, /the sha 42 is not valid/);
});

test('dbClientError: a netmask must be contiguous and cover the address', () => {
  assert.equal(dbClientError('10.0.1.0/255.255.255.0'), undefined);
  assert.equal(dbClientError('10.0.0.0/255.0.0.0'), undefined);
  assert.equal(dbClientError('0.0.0.0/0.0.0.0'), undefined);
  assert.match(dbClientError('10.0.1.5/255.255.255.0')!, /bits outside the netmask/);
  assert.match(dbClientError('10.0.0.0/255.0.255.0')!, /not contiguous/);
  assert.match(dbClientError("x'; DROP DATABASE y; --")!, /invalid client/);
  // The IPv6 part agrees with node's parser on every compressed form.
  for (const c of ['::', '::1', '1::', 'fe80::1', '2001:db8::8a2e:370:7334', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1::8']) assert.ok(dbClientError(c) === undefined && isIPv6(c), c);
  for (const c of ['1:2:3:4:5:6:7:8:9', '1::2::3', ':1', '1:', 'g::1', '12345::1']) assert.ok(dbClientError(c) !== undefined && !isIPv6(c), c);
});
