/**
 * The terminal view's content (src/reporters/live-view.ts), read as a person reads it: the play's
 * line, one row per host that never outgrows the terminal, and the failures under the view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RunEvent } from '../../../src/runner/events.js';
import { bar, changedLines, endPlay, failureLines, fit, hostLine, hostResult, playLine, recapTable, startPlay, taskStarted } from '../../../src/reporters/live-view.js';

type HostResult = Extract<RunEvent, { event: 'host_result' }>;
const result = (host: string, task: string, status: HostResult['status'], more: Partial<HostResult> = {}): HostResult =>
  ({ event: 'host_result', task, host, status, ms: 5, handler: false, ...more });
const start = (task: string, hosts: string[]): Extract<RunEvent, { event: 'task_start' }> =>
  ({ event: 'task_start', play: 'Release', task, hosts, handler: false, pos: 'release.yml:1' });

function release() {
  const v = startPlay({ event: 'play_start', play: 'Release', hosts: ['web-1', 'web-2', 'worker-1'], tasks: 4 }, 0);
  taskStarted(v, start('Upload', ['web-1', 'web-2', 'worker-1']), 0);
  for (const h of ['web-1', 'web-2', 'worker-1']) hostResult(v, result(h, 'Upload', 'changed'), 500);
  taskStarted(v, start('Only on the worker', ['web-1', 'web-2', 'worker-1']), 500);
  hostResult(v, result('web-1', 'Only on the worker', 'skipped'), 510);
  hostResult(v, result('web-2', 'Only on the worker', 'skipped'), 510);
  hostResult(v, result('worker-1', 'Only on the worker', 'ok'), 510);
  taskStarted(v, start('Composer', ['web-1', 'web-2', 'worker-1']), 510);
  return v;
}

test('the play line counts hosts, tasks done, changes, skips, failures and the time', () => {
  const v = release();
  assert.equal(playLine(v, 1500), 'Release: 3 hosts, 2/4 tasks, 3 changed, 2 skipped, 1.50s');
  hostResult(v, result('web-2', 'Composer', 'failed', { msg: 'rc=2: no', cmd: ['composer', 'install'], output: 'line 1\nYour requirements could not be resolved' }), 2000);
  assert.match(playLine(v, 2500), /3\/4 tasks, 3 changed, 2 skipped, 1 failed, 2\.50s$/);
});

test('a host row: bar, tasks done, time, and the task it is on; a failed one says where', () => {
  const v = release();
  const row = v.rows.get('web-1')!;
  assert.equal(hostLine(row, v.total, 1500, { width: 120, nameWidth: 8 }), `web-1     ${bar(2, 4, 12)} 2/4   1.50s  Composer`);
  hostResult(v, result('web-1', 'Composer', 'failed', { msg: 'rc=1: x' }), 2000);
  assert.match(hostLine(row, v.total, 9000, { width: 120, nameWidth: 8 }), /3\/4   2\.00s  failed at Composer$/, 'the time stops at the failure');
  endPlay(v, 3000);
  assert.match(hostLine(v.rows.get('web-2')!, v.total, 9000, { width: 120, nameWidth: 8 }), /3\.00s  done$/);
});

test('a row never outgrows the width it is given, whatever the names', () => {
  fc.assert(fc.property(fc.string({ minLength: 1, maxLength: 60 }), fc.string({ maxLength: 80 }), fc.integer({ min: 10, max: 200 }), (host, task, width) => {
    const v = startPlay({ event: 'play_start', play: 'P', hosts: [host], tasks: 30 }, 0);
    taskStarted(v, start(task, [host]), 0);
    const line = hostLine(v.rows.get(host)!, v.total, 123_456, { width, nameWidth: 24 });
    return [...line].length <= width && !line.includes('\n');
  }));
  assert.equal(fit('abcdef', 4), 'abc…');
});

test('failures under the view: the command as data and its last lines; hosts that failed alike share one entry', () => {
  const v = release();
  const output = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n');
  for (const h of ['web-1', 'web-2']) hostResult(v, result(h, 'Composer', 'failed', { msg: 'rc=2: line 12', cmd: ['composer', 'install', "--x=it's"], output }), 2000);
  hostResult(v, result('worker-1', 'Composer', 'unreachable', { msg: 'connection refused' }), 2000);
  assert.deepEqual(failureLines(v, 3), [
    'web-1, web-2: failed at [Composer]',
    "    $ composer install '--x=it'\\''s'",
    '    line 10', '    line 11', '    line 12',
    'worker-1: unreachable at [Composer]',
    '    connection refused',
  ]);
});

test('with -v: each task that changed something, once, with where', () => {
  const v = release();
  hostResult(v, result('web-1', 'Composer', 'changed'), 2000);
  hostResult(v, result('web-1', 'Composer', 'changed', { item: 'a' }), 2000);
  assert.deepEqual(changedLines(v), ['  changed: Upload (every host)', '  changed: Composer (web-1)']);
});

test('the recap: a table of counts and times per host, cut to the width', () => {
  const stats = (over: object) => ({ ok: 2, changed: 4, failed: 0, skipped: 1, unreachable: 0, rescued: 0, ignored: 0, ...over });
  const hosts = { 'web-1': stats({}), 'web-2': stats({ failed: 1 }) };
  const times = new Map([['web-1', 3460], ['web-2', 956]]);
  assert.deepEqual(recapTable(hosts, { ms: 3480, connections: 2, times, width: 100 }), [
    'RECAP: 3.48s in all, 2 ssh connections',
    '  host       ok  changed  failed  skipped  unreachable     time',
    '  web-1       2        4       0        1            0    3.46s',
    '  web-2       2        4       1        1            0    956ms',
  ]);
  for (const line of recapTable(hosts, { ms: 3480, connections: 2, times, width: 40 })) assert.ok([...line].length <= 40, line);
});
