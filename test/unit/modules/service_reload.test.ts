import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toShell } from '../../../src/command.js';
import { createAjv } from '../../../src/json-schema.js';
import { configTest, decideAction, defaultConfigTest, parseOutput, service_reload, serviceCommand, type ServiceState } from '../../../modules/service_reload.js';

test('service_reload schema', () => {
  const v = createAjv().compile(service_reload.schema);
  assert.ok(v({ name: 'php8.2-fpm', state: 'reloaded' }));
  assert.ok(v({ name: 'getty@tty1', state: 'restarted', test: false }));
  assert.ok(v({ name: 'nginx', state: 'reloaded', test: ['nginx', '-t'] }));
  assert.ok(!v({ name: 'nginx', state: 'enabled' }));
  assert.ok(!v({ name: 'nginx; reboot', state: 'started' }));
  assert.ok(!v({ name: '-x', state: 'started' }));
});

test('known configuration tests', () => {
  assert.deepEqual(defaultConfigTest('php8.2-fpm'), ['php-fpm8.2', '-t']);
  assert.deepEqual(defaultConfigTest('php7.4-fpm'), ['php-fpm7.4', '-t']);
  assert.deepEqual(defaultConfigTest('nginx'), ['nginx', '-t', '-q']);
  assert.equal(defaultConfigTest('cron'), undefined);
  assert.equal(configTest({ name: 'php8.2-fpm', test: false }), undefined);
  assert.deepEqual(configTest({ name: 'cron', test: ['true'] }), ['true']);
  assert.deepEqual(configTest({ name: 'nginx', test: true }), ['nginx', '-t', '-q']);
});

const table: Array<[ServiceState, boolean, string | undefined]> = [
  ['started', true, undefined], ['started', false, 'start'],
  ['stopped', true, 'stop'], ['stopped', false, undefined],
  ['reloaded', true, 'reload'], ['reloaded', false, 'start'],
  ['restarted', true, 'restart'], ['restarted', false, 'restart'],
];

test('decideAction: started/stopped idempotent, reload of a stopped service starts it', () => {
  for (const [state, running, action] of table) assert.equal(decideAction(state, running), action, `${state}/${running}`);
});

// The host-side script must decide exactly like decideAction. Run it with the local sh against a
// stand-in systemctl on PATH, in dry mode (it then only reads).
test('the host script decides like decideAction, for both init systems\' code paths', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-svc-'));
  try {
    writeFileSync(path.join(dir, 'systemctl'), '#!/bin/sh\ncase "$1" in show) echo loaded;; is-active) [ "$RUNNING" = 1 ];; *) exit 9;; esac\n');
    chmodSync(path.join(dir, 'systemctl'), 0o755);
    for (const [state, running, action] of table) {
      const line = toShell(serviceCommand('systemd', { name: 'demo', state }, true));
      const r = spawnSync('sh', ['-c', line], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, RUNNING: running ? '1' : '0' } });
      const out = parseOutput(r.stdout);
      assert.equal(out.running, running ? '1' : '0');
      assert.equal(out.action, action ?? 'none', `${state}/${running}`);
    }
    writeFileSync(path.join(dir, 'systemctl'), '#!/bin/sh\n[ "$1" = show ] && echo not-found\n');
    const r = spawnSync('sh', ['-c', toShell(serviceCommand('systemd', { name: 'nope', state: 'started' }, true))], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } });
    assert.equal(parseOutput(r.stdout).state, 'missing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the service name and test command travel as arguments', () => {
  const cmd = serviceCommand('sysv', { name: 'php8.2-fpm', state: 'reloaded' }, false);
  assert.ok('script' in cmd);
  assert.deepEqual(cmd.args, ['sysv', 'php8.2-fpm', 'reloaded', '0', 'php-fpm8.2', '-t']);
  assert.ok(!cmd.script.includes('php8.2'));
});
