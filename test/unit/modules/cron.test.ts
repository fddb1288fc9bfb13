/** cron, state: absent: one read, and a removal only for a file that is there, never in check mode. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from '../../../src/command.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import type { PathType, StatRequest } from '../../../src/module-kit/facts/file.js';
import { cron } from '../../../modules/cron.js';

/** A host where /etc/cron.d/app is `type`; records every round trip. */
function host(type: PathType, check: boolean, rmCode = 0) {
  const trips: string[] = [];
  const ctx = {
    check,
    diff: true,
    stat: async (reqs: readonly StatRequest[]) => (trips.push(`stat ${reqs.map((r) => r.path).join(' ')}`), reqs.map((r) => ({ path: r.path, type, parentIsDir: true }))),
    exec: async (cmd: Command) => (trips.push(`exec ${'script' in cmd ? cmd.args?.join(' ') : cmd.argv.join(' ')}`), { code: rmCode, stdout: '', stderr: rmCode ? 'rm: busy' : '' }),
  } as ModuleContext;
  return { ctx, trips };
}

test('cron absent: a file there is removed, and only outside check mode', async () => {
  const diff = [{ path: '/etc/cron.d/app', before: '(present)\n', after: '' }];
  const dry = host('file', true);
  assert.deepEqual(await cron.run(dry.ctx, { name: 'app', state: 'absent' }), { changed: true, msg: '/etc/cron.d/app: removed', diff });
  assert.deepEqual(dry.trips, ['stat /etc/cron.d/app']);
  const real = host('file', false);
  assert.deepEqual(await cron.run(real.ctx, { name: 'app', state: 'absent' }), { changed: true, msg: '/etc/cron.d/app: removed', diff });
  assert.deepEqual(real.trips, ['stat /etc/cron.d/app', 'exec rm -f -- /etc/cron.d/app']);
});

test('cron absent: nothing there is nothing to do; a failed removal fails the task', async () => {
  const gone = host('missing', false);
  assert.deepEqual(await cron.run(gone.ctx, { name: 'app', state: 'absent' }), { changed: false, msg: '/etc/cron.d/app: absent', diff: undefined });
  assert.deepEqual(gone.trips, ['stat /etc/cron.d/app']);
  const busy = host('file', false, 1);
  assert.deepEqual(await cron.run(busy.ctx, { name: 'app', state: 'absent' }), { changed: false, failed: true, msg: 'rm: busy' });
  // A bad name is refused before the host is asked anything.
  const bad = host('file', false);
  assert.match((await cron.run(bad.ctx, { name: 'a.b', state: 'absent' })).msg!, /cron ignores files with dots/);
  assert.deepEqual(bad.trips, []);
});
