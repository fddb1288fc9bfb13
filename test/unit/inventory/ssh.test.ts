import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { builtinSsh, mergeSsh } from '../../../src/inventory/index.js';
import type { SshOptions } from '../../../src/definitions/index.js';
import type { SshSettings } from '../../../src/inventory/index.js';

const BUILTIN: SshSettings = {
  user: 'root',
  port: 22,
  knownHosts: path.join(os.homedir(), '.ssh', 'known_hosts'),
  hostKeyPolicy: 'strict',
  connectTimeout: 10,
};

test('built-in defaults', () => {
  assert.deepEqual(builtinSsh(), BUILTIN);
  assert.deepEqual(mergeSsh(), BUILTIN);
  assert.equal(mergeSsh().key, undefined, 'no key: ssh-agent');
});

test('later layers win, key by key', () => {
  const cases: Array<[string, (SshOptions | undefined)[], Partial<SshSettings>]> = [
    ['flight.yml only', [{ user: 'deploy', port: 2200 }], { user: 'deploy', port: 2200 }],
    ['server over flight.yml', [{ user: 'deploy', port: 2200 }, { port: 22 }], { user: 'deploy', port: 22 }],
    ['absent layers are skipped', [undefined, { key: '/k' }, undefined], { key: '/k' }],
    [
      'every field',
      [{ user: 'a', host_key_policy: 'accept-new' }, { known_hosts: '/kh', connect_timeout: 3, host_key_policy: 'off' }],
      { user: 'a', knownHosts: '/kh', connectTimeout: 3, hostKeyPolicy: 'off' },
    ],
    [
      'a jump takes the host\'s user and key unless it has its own',
      [{ user: 'deploy', key: '/k', jump: { host: 'bastion' } }],
      { user: 'deploy', key: '/k', jump: { host: 'bastion', port: 22, user: 'deploy', key: '/k' } },
    ],
    [
      'a server\'s jump replaces the inherited one entirely',
      [{ jump: { host: 'b1', port: 2222, user: 'j' } }, { jump: { host: 'b2' } }],
      { jump: { host: 'b2', port: 22, user: 'root' } },
    ],
    ['false cancels an inherited jump', [{ jump: { host: 'b1' } }, { jump: false }], {}],
  ];
  for (const [name, layers, expected] of cases) assert.deepEqual(mergeSsh(...layers), { ...BUILTIN, ...expected }, name);
});
