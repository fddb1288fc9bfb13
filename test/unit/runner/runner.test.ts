/**
 * The runner's own logic (handlers, check mode, when/loop/register, blocks, failure rules),
 * run against two `local` hosts: real commands on this machine, no SSH needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConnectionPool } from '../../../src/connection/index.js';
import { createInventory } from '../../../src/inventory/index.js';
import { builtinSsh } from '../../../src/inventory/index.js';
import type { Host } from '../../../src/inventory/types.js';
import { modules } from '../../../modules/index.js';
import { catalogOf } from '../../../src/module-kit/catalog.js';
import { loadPlaybook } from '../../../src/playbook/load.js';
import type { RunEvent } from '../../../src/runner/events.js';
import { runPlaybook } from '../../../src/runner/runner.js';

const host = (name: string, vars: Record<string, unknown> = {}): Host => ({
  name, address: '127.0.0.1', connection: 'local', ssh: builtinSsh(), vars, groups: ['all'],
});

async function run(yaml: string, opts: { check?: boolean; extraVars?: Record<string, unknown>; tags?: string[] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-runner-'));
  const file = path.join(dir, 'pb.yml');
  fs.writeFileSync(file, yaml.replaceAll('$DIR', dir));
  const inventory = createInventory([host('h1', { role: 'a' }), host('h2', { role: 'b' })], new Map([['all', ['h1', 'h2']], ['web', ['h1']]]));
  const events: RunEvent[] = [];
  const pool = new ConnectionPool();
  const catalog = catalogOf(modules);
  const summary = await runPlaybook(loadPlaybook(file, catalog), {
    inventory, modules, catalog, connections: pool, extraVars: opts.extraVars ?? {}, check: opts.check ?? false,
    diff: false, forks: 5, verbosity: 0, tags: opts.tags, emit: (e) => events.push(e),
  });
  await pool.closeAll();
  const results = events.filter((e): e is Extract<RunEvent, { event: 'host_result' }> => e.event === 'host_result');
  const of = (task: string) => Object.fromEntries(results.filter((r) => r.task === task).map((r) => [r.host, r.status]));
  return { dir, events, summary, results, of };
}

test('handlers run once per host, at the end, only where a task changed', async () => {
  const r = await run(`
- hosts: all
  tasks:
    - name: change on h1 only
      command: { argv: ["true"] }
      changed_when: "inventory_hostname == 'h1'"
      notify: say
    - name: again
      command: { argv: ["true"] }
      changed_when: "inventory_hostname == 'h1'"
      notify: say
    - name: last task
      debug: { msg: last }
  handlers:
    - name: say
      command: { argv: [sh, -c, "echo x >> $DIR/handler-{{ inventory_hostname }}"] }
`);
  assert.deepEqual(r.of('say'), { h1: 'changed' });
  assert.equal(fs.readFileSync(path.join(r.dir, 'handler-h1'), 'utf8'), 'x\n');
  assert.equal(fs.existsSync(path.join(r.dir, 'handler-h2')), false);
  const order = r.events.filter((e) => e.event === 'task_start').map((e) => (e as { task: string }).task);
  assert.deepEqual(order, ['change on h1 only', 'again', 'last task', 'say']);
});

test('check mode changes nothing and still reports the change', async () => {
  const r = await run(`
- hosts: all
  tasks:
    - name: make a file
      file: { path: "$DIR/{{ inventory_hostname }}.txt", state: touch }
`, { check: true });
  assert.deepEqual(r.of('make a file'), { h1: 'changed', h2: 'changed' });
  assert.equal(fs.existsSync(path.join(r.dir, 'h1.txt')), false);
  assert.equal(fs.existsSync(path.join(r.dir, 'h2.txt')), false);
});

test('when, loop, register and set_fact', async () => {
  const r = await run(`
- hosts: all
  tasks:
    - name: only a
      set_fact: { picked: "{{ role }}" }
      when: role == 'a'
    - name: loop
      command: { argv: [echo, "{{ item }}"] }
      loop: [one, two]
      register: out
    - name: show
      debug: { msg: "{{ out.results | length }} {{ out.results[1].stdout | trim }}" }
    - name: use fact
      fail: { msg: "picked {{ picked }}" }
      when: picked is defined
`);
  assert.deepEqual(r.of('only a'), { h1: 'ok', h2: 'skipped' });
  assert.equal(r.results.find((x) => x.task === 'show' && x.host === 'h1')?.msg, '2 two');
  assert.deepEqual(r.of('use fact'), { h1: 'failed', h2: 'skipped' });
  assert.equal(r.results.find((x) => x.task === 'use fact' && x.host === 'h1')?.msg, 'picked a');
  assert.deepEqual(r.summary.failed, ['h1']);
});

test('hostvars: a later play reads what a host registered in an earlier one, on top of its inventory vars', async () => {
  const r = await run(`
- hosts: web
  tasks:
    - name: make
      command: { argv: [echo, "made-on-{{ inventory_hostname }}"] }
      register: made
- hosts: all
  tasks:
    - name: read
      debug: { msg: "{{ hostvars['h1'].made.stdout | trim }} {{ hostvars['h1'].role }} {{ hostvars['h2'].role }} {{ 'made' in hostvars['h2'] }}" }
`);
  assert.deepEqual(r.results.filter((x) => x.task === 'read').map((x) => [x.host, x.msg]), [['h1', 'made-on-h1 a b false'], ['h2', 'made-on-h1 a b false']]);
});

test('block, rescue and always', async () => {
  const r = await run(`
- hosts: all
  tasks:
    - block:
        - name: fails on h1
          fail: { msg: boom }
          when: inventory_hostname == 'h1'
        - name: after failure
          debug: { msg: x }
      rescue:
        - name: rescue
          debug: { msg: rescued }
      always:
        - name: always
          debug: { msg: always }
    - name: next
      debug: { msg: next }
`);
  assert.deepEqual(r.of('after failure'), { h2: 'ok' });
  assert.deepEqual(r.of('rescue'), { h1: 'ok' });
  assert.deepEqual(r.of('always'), { h1: 'ok', h2: 'ok' });
  assert.deepEqual(r.of('next'), { h1: 'ok', h2: 'ok' });
  assert.deepEqual(r.summary.failed, []);
  assert.equal(r.summary.hosts.h1!.rescued, 1);
});

test('any_errors_fatal stops every host, and later plays skip them', async () => {
  const r = await run(`
- hosts: all
  any_errors_fatal: true
  tasks:
    - name: prepare
      fail: { msg: broken }
      when: inventory_hostname == 'h2'
    - name: switch
      debug: { msg: switched }
- hosts: all
  tasks:
    - name: later play
      debug: { msg: later }
`);
  assert.deepEqual(r.of('switch'), {});
  assert.deepEqual(r.of('later play'), {});
  assert.deepEqual(r.summary.failed, ['h2']);
});

test('an undefined variable fails the task, naming the task and the variable', async () => {
  const r = await run(`
- hosts: web
  tasks:
    - name: uses a typo
      debug: { msg: "{{ relase_dir }}" }
`);
  const res = r.results.find((x) => x.task === 'uses a typo')!;
  assert.equal(res.status, 'failed');
  assert.match(res.msg!, /task 'uses a typo' \(.*pb\.yml:4\).*undefined variable 'relase_dir'/);
});

test('tags select tasks; untagged ones are skipped, `always` runs', async () => {
  const r = await run(`
- hosts: web
  tasks:
    - { name: a, debug: { msg: a }, tags: [x] }
    - { name: b, debug: { msg: b } }
    - { name: c, debug: { msg: c }, tags: [always] }
`, { tags: ['x'] });
  assert.deepEqual(r.results.map((x) => x.task), ['a', 'c']);
});

test('extra vars win over play vars; play vars may use host vars', async () => {
  const r = await run(`
- hosts: all
  vars:
    greeting: "hi {{ role }}"
    who: play
  tasks:
    - name: say
      debug: { msg: "{{ greeting }} {{ who }}" }
`, { extraVars: { who: 'cli' } });
  assert.equal(r.results.find((x) => x.host === 'h1')!.msg, 'hi a cli');
  assert.equal(r.results.find((x) => x.host === 'h2')!.msg, 'hi b cli');
});

test('any_errors_fatal inside a block: every host is rescued and sees who failed where', async () => {
  const r = await run(`
- hosts: all
  any_errors_fatal: true
  tasks:
    - block:
        - name: prepare
          fail: { msg: disk full }
          when: inventory_hostname == 'h2'
        - name: switch
          debug: { msg: switched }
      rescue:
        - name: clean up
          debug: { msg: "{{ failed_host }} at {{ failed_task }}: {{ failed_msg }}" }
        - name: give up
          fail: { msg: "release failed on {{ failed_host }}" }
`);
  assert.deepEqual(r.of('switch'), {});
  assert.deepEqual(r.of('clean up'), { h1: 'ok', h2: 'ok' });
  assert.equal(r.results.find((x) => x.task === 'clean up' && x.host === 'h1')!.msg, 'h2 at prepare: disk full');
  assert.deepEqual(r.of('give up'), { h1: 'failed', h2: 'failed' });
  assert.deepEqual(r.summary.failed.sort(), ['h1', 'h2']);
});

test('a block or include `when` guards every task inside it', async () => {
  const r = await run(`
- hosts: all
  tasks:
    - block:
        - name: inner
          debug: { msg: x }
      when: role == 'a'
`);
  assert.deepEqual(r.of('inner'), { h1: 'ok', h2: 'skipped' });
});
