import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadInventoryFile, parseInventory } from '../../../src/inventory/index.js';
import { formatProblem, ProblemsError } from '../../../src/problems.js';

const HOSTS = `all:
  hosts:
    h1: { ansible_host: 1.2.3.4, ansible_port: 2222, ansible_user: u, ansible_ssh_private_key_file: keys/k, other_var: x }
    h2:
  vars:
    v: all
    user: deploy
  children:
    web:
      hosts:
        h1: {}
        h3: { host: 5.6.7.8, port: 23, key: /abs/k }
      vars: { v: web }
      children:
        front:
          hosts: { h3: }
          vars: { v: front }
    db:
      hosts: { h2: }
      vars: { v: db, w: db }
    local:
      hosts:
        control: { ansible_connection: local }
`;

test('an Ansible-style inventory: hosts, groups, children', () => {
  const inv = parseInventory(HOSTS, 'hosts.yml', '/inv');
  assert.deepEqual([...inv.hosts.keys()], ['h1', 'h2', 'h3', 'control', 'localhost']);
  assert.deepEqual(Object.fromEntries(inv.groups), {
    all: ['h1', 'h2', 'h3', 'control'],
    web: ['h1', 'h3'],
    front: ['h3'],
    db: ['h2'],
    local: ['control'],
    ungrouped: [],
  });
  assert.deepEqual(inv.hosts.get('h3')!.groups, ['all', 'web', 'front']);
  assert.deepEqual(inv.select('web:!front').map((h) => h.name), ['h1']);
});

test('connection variables, both spellings, keys relative to the file', () => {
  const inv = parseInventory(HOSTS, 'hosts.yml', '/inv');
  const h1 = inv.hosts.get('h1')!;
  assert.equal(h1.address, '1.2.3.4');
  assert.equal(h1.connection, 'ssh');
  assert.deepEqual([h1.ssh.user, h1.ssh.port, h1.ssh.key], ['u', 2222, '/inv/keys/k']);
  const h3 = inv.hosts.get('h3')!;
  assert.equal(h3.address, '5.6.7.8');
  assert.deepEqual([h3.ssh.user, h3.ssh.port, h3.ssh.key], ['deploy', 23, '/abs/k']);
  const h2 = inv.hosts.get('h2')!;
  assert.equal(h2.address, 'h2', 'the name, when no address is given');
  assert.deepEqual([h2.ssh.user, h2.ssh.port, h2.ssh.key], ['deploy', 22, undefined]);
  assert.equal(inv.hosts.get('control')!.connection, 'local');
  assert.equal(inv.hosts.get('localhost')!.connection, 'local');
});

test('variables: all < parent group < child group < host', () => {
  const inv = parseInventory(HOSTS, 'hosts.yml', '/inv');
  assert.equal(inv.hosts.get('h1')!.vars.v, 'web');
  assert.equal(inv.hosts.get('h1')!.vars.other_var, 'x');
  assert.equal(inv.hosts.get('h2')!.vars.v, 'db');
  assert.equal(inv.hosts.get('h3')!.vars.v, 'front');
  assert.equal(inv.hosts.get('control')!.vars.v, 'all');
  assert.equal(inv.hosts.get('control')!.vars.w, undefined);
});

test('hosts outside any group are in ungrouped; top-level groups are children of all', () => {
  const inv = parseInventory('all:\n  hosts: { a: , b: }\nweb:\n  hosts: { b: , c: }\n  vars: { x: 1 }\n', 'h.yml', '/');
  assert.deepEqual(Object.fromEntries(inv.groups), { all: ['a', 'b', 'c'], web: ['b', 'c'], ungrouped: ['a'] });
  assert.equal(inv.hosts.get('c')!.vars.x, 1);
});

test('ssh defaults can come from flight.yml, below the file', () => {
  const inv = parseInventory('all:\n  hosts:\n    a: { port: 2200 }\n', 'h.yml', '/', { ssh: { user: 'deploy', port: 22, host_key_policy: 'off' } });
  const a = inv.hosts.get('a')!;
  assert.deepEqual([a.ssh.user, a.ssh.port, a.ssh.hostKeyPolicy], ['deploy', 2200, 'off']);
});

test('bad inventory files: every problem, with positions', () => {
  const cases: Array<[string, string[]]> = [
    [
      'all:\n  hots: {}\n  hosts:\n    h1: { ansible_port: "22", ansible_connection: winrm }\n    "bad name": {}\n',
      [
        "h.yml:2:3: all: unknown key 'hots' (expected one of: hosts, children, vars); did you mean 'hosts'?",
        'h.yml:4:25: all.hosts.h1.ansible_port: must be integer between 1 and 65535, got "22"',
        'h.yml:4:51: all.hosts.h1.ansible_connection: must be one of: ssh, local',
        "h.yml:5:5: all.hosts: key 'bad name' must be a name of letters, digits, '_', '.' and '-'",
      ],
    ],
    ['- h1\n- h2\n', ['h.yml:1:1: must be a mapping, got a list']],
    ['all:\n  children:\n    a: { children: { b: { children: { a: } } } }\n', ["h.yml:3:39: all.children.a.children.b.children.a: group 'a' contains itself (a > b > a)"]],
    ['all:\n  children:\n    all: {}\n', ["h.yml:3:5: all.children.all: 'all' is the group of every host: it cannot be a child"]],
    ['all:\n  hosts: { a: 1 }\n', ['h.yml:2:15: all.hosts.a: must be a mapping or null, got an integer']],
    ['all: [\n', ['h.yml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
  ];
  for (const [text, expected] of cases) {
    assert.throws(
      () => parseInventory(text, 'h.yml', '/'),
      (e: unknown) => {
        assert.ok(e instanceof ProblemsError, String(e));
        assert.equal(e.kind, 'invalid');
        assert.deepEqual(e.problems.map(formatProblem), expected, text);
        assert.match(e.message, /^invalid inventory h\.yml/);
        return true;
      },
    );
  }
});

test('loadInventoryFile reads from disk; a missing file is an invalid-input error', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-inv-'));
  try {
    fs.writeFileSync(path.join(dir, 'hosts.yml'), 'all:\n  hosts:\n    a: { key: id_ed25519 }\n');
    const inv = await loadInventoryFile(path.join(dir, 'hosts.yml'));
    assert.equal(inv.hosts.get('a')!.ssh.key, path.join(dir, 'id_ed25519'));
    await assert.rejects(loadInventoryFile(path.join(dir, 'nope.yml')), /cannot read inventory file .*nope\.yml: no such file/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
