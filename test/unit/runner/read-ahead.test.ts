/**
 * Reading ahead (src/runner/read-ahead.ts): consecutive file tasks on a host share one read, and
 * a read is never used once something may have changed the host. Run by the real runner against
 * a `local` host (real commands on this machine), counting the commands each run sends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConnectionPool } from '../../../src/connection/index.js';
import type { Connection } from '../../../src/connection/types.js';
import { createInventory, builtinSsh } from '../../../src/inventory/index.js';
import type { Host } from '../../../src/inventory/types.js';
import { modules } from '../../../modules/index.js';
import { catalogOf } from '../../../src/module-kit/catalog.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { RunEvent } from '../../../src/runner/events.js';
import { ReadAhead } from '../../../src/runner/read-ahead.js';
import { runPlaybook } from '../../../src/runner/runner.js';
import { counting } from '../../support/counting.js';

const host: Host = { name: 'h1', address: '127.0.0.1', connection: 'local', ssh: builtinSsh(), vars: {}, groups: ['all'] };

/** Run `yaml` (with $DIR replaced) on one local host; count the commands sent to it, facts aside. */
async function run(dir: string, yaml: string) {
  const file = path.join(dir, 'pb.yml');
  fs.writeFileSync(file, yaml.replaceAll('$DIR', dir));
  const pool = new ConnectionPool();
  let calls = 0;
  const source = {
    get opened() {
      return pool.opened;
    },
    async get(h: Host): Promise<Connection> {
      return counting(await pool.get(h), () => calls++);
    },
  };
  const events: RunEvent[] = [];
  const catalog = catalogOf(modules);
  await runPlaybook(loadPlaybook(file, catalog), {
    inventory: createInventory([host], new Map([['all', ['h1']]])), modules, catalog, connections: source,
    extraVars: {}, check: false, diff: false, forks: 5, verbosity: 0, emit: (e) => events.push(e),
  });
  await pool.closeAll();
  const results = events.filter((e): e is Extract<RunEvent, { event: 'host_result' }> => e.event === 'host_result');
  // The first call on a host reads its facts.
  return { calls: calls - 1, status: Object.fromEntries(results.map((r) => [r.task, r.status])) };
}

/** Run `fn` in a scratch folder, removed afterwards. */
async function inScratch(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-read-ahead-'));
  try {
    await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a run of file tasks with nothing to do costs one read in all', () =>
  inScratch(async (dir) => {
    fs.mkdirSync(path.join(dir, 'templates'));
    fs.writeFileSync(path.join(dir, 'templates', 'conf.j2'), 'name={{ inventory_hostname }}\n');
    const yaml = `
- hosts: all
  tasks:
    - { name: a folder, file: { path: "$DIR/a", state: directory, mode: "0750" } }
    - { name: a folder below, file: { path: "$DIR/a/b", state: directory } }
    - { name: a config, template: { src: conf.j2, dest: "$DIR/a/conf", mode: "0640" } }
    - { name: a note, copy: { content: "hello\\n", dest: "$DIR/a/note" } }
    - { name: a link, symlink: { path: "$DIR/current", target: "a" } }
`;
    const first = await run(dir, yaml);
    assert.deepEqual(Object.values(first.status), ['changed', 'changed', 'changed', 'changed', 'changed']);
    assert.equal(first.calls, 6, 'one read, then one command per change, each carrying the reads of the tasks after it');
    const again = await run(dir, yaml);
    assert.deepEqual(Object.values(again.status), ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.equal(again.calls, 1, 'five tasks, one read');
  }));

test('a command between file tasks makes the next one read again', () =>
  inScratch(async (dir) => {
    fs.writeFileSync(path.join(dir, 'f'), 'x\n');
    const r = await run(dir, `
- hosts: all
  tasks:
    - { name: the file is there, file: { path: "$DIR/f", state: file } }
    - name: something removes it
      command: { argv: [rm, "$DIR/f"] }
      changed_when: false
    - { name: it is made again, file: { path: "$DIR/f", state: touch } }
`);
    // Reading ahead stops at the command (it may change anything) and the command forgets every
    // read: the third task reads again, and sees the file gone.
    assert.deepEqual(r.status, { 'the file is there': 'ok', 'something removes it': 'ok', 'it is made again': 'changed' });
    assert.ok(fs.existsSync(path.join(dir, 'f')));
    assert.equal(r.calls, 4, 'read, command, read again, touch');
  }));

test('a file task that changes something makes the next one read again, in the same call', () =>
  inScratch(async (dir) => {
    const r = await run(dir, `
- hosts: all
  tasks:
    - { name: make the folder, file: { path: "$DIR/d", state: directory } }
    - { name: then a file in it, file: { path: "$DIR/d/f", state: touch, mode: "0600" } }
`);
    // Read ahead, the second task's folder was missing; after the first task made it, the second
    // must see the folder and create the file, not fail on a stale "no parent folder". The new
    // read comes with the first task's own command.
    assert.deepEqual(r.status, { 'make the folder': 'changed', 'then a file in it': 'changed' });
    assert.equal(fs.statSync(path.join(dir, 'd', 'f')).mode & 0o777, 0o600);
    assert.equal(r.calls, 3, 'the read, the folder made (and the second task read again, in the same call), the touch');
  }));

test('a read answers only the same question asked as the same user', () => {
  const cache = new ReadAhead();
  const state = { path: '/a', type: 'file' as const, parentIsDir: true };
  cache.keep([{ path: '/a' }], [state], 'root');
  assert.deepEqual(cache.take([{ path: '/a' }], 'root'), [state]);
  assert.equal(cache.take([{ path: '/a', checksum: true }], 'root'), undefined, 'a checksum was not read');
  assert.equal(cache.take([{ path: '/a' }], 'app'), undefined, 'another user may see another state');
  assert.equal(cache.take([{ path: '/a' }, { path: '/b' }], 'root'), undefined, 'all or nothing');
  cache.forget();
  assert.equal(cache.take([{ path: '/a' }], 'root'), undefined);
});

test('reads staged after a command count only once the task has finished with a change', () => {
  const cache = new ReadAhead();
  const before = { path: '/a', type: 'missing' as const, parentIsDir: true };
  const after = { path: '/a', type: 'directory' as const, parentIsDir: true };
  cache.keep([{ path: '/a' }], [before], 'root');
  cache.stage([{ path: '/a' }], [after], 'root');
  assert.deepEqual(cache.take([{ path: '/a' }], 'root'), [before], 'staged is not known yet');
  cache.settle();
  assert.deepEqual(cache.take([{ path: '/a' }], 'root'), [after]);
  cache.stage([{ path: '/b' }], [{ path: '/b', type: 'file', parentIsDir: true }], 'root');
  cache.unstage();
  cache.settle();
  assert.equal(cache.take([{ path: '/a' }], 'root'), undefined, 'a put after the last read: nothing is known');
});

test('a command and the reads after it: one call, the reads only when the command succeeded', async () => {
  const { withReadsAfter, splitReadsAfter } = await import('../../../src/module-kit/facts/file.js');
  const { LocalConnection } = await import('../../../src/connection/local.js');
  await inScratch(async (dir) => {
    const conn = new LocalConnection('local');
    const reqs = [{ path: path.join(dir, 'made') }, { path: path.join(dir, "it's here") }];
    const ok = await conn.exec(withReadsAfter({ argv: ['sh', '-c', 'mkdir "$1"; echo done', 'x', reqs[0]!.path] }, reqs));
    const split = splitReadsAfter(ok.stdout, reqs);
    assert.equal(split.stdout, 'done\n');
    assert.deepEqual(split.states?.map((s) => s.type), ['directory', 'missing']);
    const failed = await conn.exec(withReadsAfter({ argv: ['false'] }, reqs));
    assert.equal(failed.code, 1);
    assert.equal(splitReadsAfter(failed.stdout, reqs).states, undefined);
  });
});
