/**
 * The supervisord control call: the request it sends (as data) and how it reads the reply. The
 * Python program itself runs against real supervisord in the lab (modules-files, workflows).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from '../../../src/command.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { supervisorRpc } from '../../../src/module-kit/supervisor-rpc.js';

function host(reply: { code: number; stdout: string; stderr?: string }) {
  const sent: Command[] = [];
  const ctx = { async exec(cmd: Command) { sent.push(cmd); return { stderr: '', ...reply }; } } as unknown as ModuleContext;
  return { ctx, sent };
}

test('supervisorRpc: one call; the daemon is waited for first when it is started; values travel as arguments', async () => {
  const h = host({ code: 0, stdout: 'noise\n{"ok": true, "processes": 2}\n' });
  const out = await supervisorRpc(h.ctx, [{ op: 'start', group: "q'; rm -rf /" }, { op: 'wait', groups: ["q'; rm -rf /"], want: 'running', timeout: 16 }], { startDaemon: true });
  assert.deepEqual(out, { processes: 2, pids: undefined });
  assert.equal(h.sent.length, 1);
  const cmd = h.sent[0] as { script: string; args: readonly string[] };
  assert.equal(cmd.args[0], '1');
  assert.doesNotMatch(cmd.script, /rm -rf/, 'no value is script text');
  assert.deepEqual(JSON.parse(cmd.args[2]!).map((s: { op: string }) => s.op), ['daemon', 'start', 'wait']);

  const quiet = host({ code: 0, stdout: '{"ok": true, "pids": [12, 13]}\n' });
  assert.deepEqual(await supervisorRpc(quiet.ctx, [{ op: 'pids', groups: ['q'] }]), { processes: undefined, pids: [12, 13] });
  assert.equal((quiet.sent[0] as { args: readonly string[] }).args[0], '0');
});

test("supervisorRpc: a failed step is the error, with supervisord's own words; a broken call says what it printed", async () => {
  const fatal = host({ code: 0, stdout: '{"ok": false, "msg": "not running: q:q FATAL: boot failed"}\n' });
  assert.deepEqual(await supervisorRpc(fatal.ctx, [{ op: 'start', group: 'q' }]), { error: 'not running: q:q FATAL: boot failed' });
  const broken = host({ code: 127, stdout: '', stderr: 'sh: python3: not found\n' });
  assert.deepEqual(await supervisorRpc(broken.ctx, [{ op: 'start', group: 'q' }]), { error: 'supervisor control failed (rc=127): sh: python3: not found' });
});
