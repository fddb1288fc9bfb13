/**
 * supervisor as an operation: the decision from the read (file state and supervisord's status),
 * and a run against a scripted host, where check mode reads and changes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command } from '../../../src/command.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import type { PathState } from '../../../src/module-kit/facts/file.js';
import type { SupervisorStatus } from '../../../src/module-kit/facts/supervisor.js';
import { sha256, type FileSpec } from '../../../src/module-kit/write.js';
import { planSupervisor, supervisor, supervisorChanged, type SupervisorFacts } from '../../../modules/supervisor.js';

const spec: FileSpec = { path: '/etc/supervisor/conf.d/q.conf', content: '[program:q]\n', mode: '0644', owner: 'root', group: 'root' };
const file = (over: Partial<PathState> = {}): PathState => ({
  path: spec.path, type: 'file', parentIsDir: true, mode: '0644', owner: 'root', group: 'root', uid: 0, gid: 0, sha256: sha256(spec.content), ...over,
});
const missing: PathState = { path: spec.path, type: 'missing', parentIsDir: true };
const running: SupervisorStatus = { installed: true, running: true, loaded: true, processes: [{ name: 'q', state: 'RUNNING' }] };
const absentSup: SupervisorStatus = { installed: false, running: false, loaded: false, processes: [] };
const p = { name: 'q', command: 'x' };

test('planSupervisor: no supervisor is a failure, except for a program that is already absent', () => {
  const gone = planSupervisor({ ...p, state: 'absent' }, { state: missing, status: absentSup });
  assert.equal(gone.notInstalled, true);
  assert.equal(gone.error, undefined);
  assert.equal(supervisorChanged(gone), false);
  const left: SupervisorFacts = { state: file(), status: absentSup };
  assert.match(planSupervisor({ ...p, state: 'absent' }, left).error ?? '', /supervisor is not installed/);
  assert.match(planSupervisor(p, { spec, state: missing, status: absentSup }).error ?? '', /supervisor is not installed/);
});

test('planSupervisor: the file plan feeds the control plan; a file that cannot be written fails', () => {
  const same = planSupervisor(p, { spec, state: file(), status: running });
  assert.deepEqual([same.file?.content, same.control], [false, { startDaemon: false, update: false, remove: false }]);
  assert.equal(supervisorChanged(same), false, 'the file and the processes are as asked');

  const edited = planSupervisor(p, { spec, state: file({ sha256: 'old' }), status: running });
  assert.equal(edited.file?.content, true);
  assert.deepEqual(edited.control, { startDaemon: false, update: true, remove: false, action: 'start' }, 'a changed file is reread and its processes started');
  assert.equal(supervisorChanged(edited), true);

  const modeOnly = planSupervisor(p, { spec, state: file({ mode: '0600' }), status: running });
  assert.equal(modeOnly.control.update, false, 'a mode change needs no reread');
  assert.equal(supervisorChanged(modeOnly), true);

  assert.match(planSupervisor(p, { spec, state: file({ type: 'directory' }), status: running }).error ?? '', /is a directory/);

  const remove = planSupervisor({ ...p, state: 'absent' }, { state: file(), status: running });
  assert.deepEqual([remove.file, remove.control.remove, remove.control.update], [undefined, true, true]);
  assert.equal(supervisorChanged(remove), true);
});

/** A host answering the read (file missing, supervisord down) and any later command with success. */
function host(check: boolean) {
  const sent: Command[] = [];
  const ctx = {
    check, diff: false,
    async exec(cmd: Command) {
      sent.push(cmd);
      if (sent.length > 1) return { code: 0, stdout: '{"ok": true, "processes": 1}\n', stderr: '' };
      return { code: 0, stdout: 'stat-end\0\x001\0\0\0\0end\0installed=1\nvia=ctl\nunix:///var/run/supervisor.sock no such file\n', stderr: '' };
    },
  } as unknown as ModuleContext;
  return { ctx, sent };
}

test('supervisor: check mode reads and reports the change; the real run applies it', async () => {
  const dry = host(true);
  const planned = await supervisor.run(dry.ctx, p);
  assert.equal(dry.sent.length, 1, 'check mode: the read only');
  assert.equal(planned.changed, true);
  assert.match(planned.msg ?? '', /created.*supervisord started, processes started/);

  const real = host(false);
  const done = await supervisor.run(real.ctx, p);
  assert.equal(real.sent.length, 3, 'read, write the file, then start supervisord and the processes and wait for them in one call');
  assert.deepEqual(done, planned);
});
