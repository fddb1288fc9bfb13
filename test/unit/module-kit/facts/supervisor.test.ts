import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from '../../../../src/command.js';
import { readProgram } from '../../../../src/module-kit/facts/supervisor.js';

const answer = (stdout: string, code = 0) => {
  const sent: Command[] = [];
  return { sent, ctx: { exec: async (cmd: Command) => (sent.push(cmd), { code, stdout, stderr: code ? 'sh: broken' : '' }) } };
};

test('readProgram: the program file and its group in one command, the group name as an argument', async () => {
  const host = answer('/etc/supervisor/conf.d/q.conf\0regular file/644/0/root/0/root/12\0/etc/supervisor/conf.d/q.conf\0stat-end\0\0'
    + '1\0\0\0\0end\0installed=1\nvia=ctl\nq:q_00   RUNNING   pid 12, uptime 0:01:00\n');
  const read = await readProgram(host.ctx, { path: '/etc/supervisor/conf.d/q.conf' }, 'q');
  assert.equal(host.sent.length, 1);
  assert.equal((host.sent[0] as { args?: readonly string[] }).args?.at(-1), 'q');
  assert.deepEqual([read.state.type, read.state.mode], ['file', '0644']);
  assert.deepEqual(read.status, { installed: true, running: true, loaded: true, processes: [{ name: 'q:q_00', state: 'RUNNING' }] });
});

test('readProgram: a read that fails throws, rather than passing for a state', async () => {
  await assert.rejects(readProgram(answer('', 2).ctx, { path: '/etc/supervisor/conf.d/q.conf' }, 'q'), /reading supervisor state failed \(rc=2\): sh: broken/);
});
