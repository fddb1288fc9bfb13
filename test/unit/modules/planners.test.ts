import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAjv } from '../../../src/json-schema.js';
import type { PathState } from '../../../src/module-kit/facts/file.js';
import { modules } from '../../../modules/index.js';
import { fileChanged, fileCommands, planFileModule } from '../../../modules/file.js';
import { planSymlink, resolveTarget } from '../../../modules/symlink.js';
import { renderCron, scheduleError } from '../../../modules/cron.js';
import { escapePercent, planControl, renderProgram } from '../../../modules/supervisor.js';
import { parseStatus, type SupervisorStatus } from '../../../src/module-kit/facts/supervisor.js';

const st = (type: PathState['type'], over: Partial<PathState> = {}): PathState => ({
  path: '/srv/x', type, parentIsDir: true,
  ...(type === 'missing' ? {} : { mode: '0755', uid: 0, owner: 'root', gid: 0, group: 'root' }),
  ...over,
});

test('every module schema compiles in strict mode and rejects unknown arguments', () => {
  const ajv = createAjv();
  const samples: Record<string, object> = {
    file: { path: '/x', state: 'directory', mode: '0750' },
    template: { src: 'a.j2', dest: '/x', validate: 'nginx -t -c %s' },
    copy: { content: 'x', dest: '/x' },
    symlink: { path: '/x', target: 'y' },
    cron: { name: 'app-scheduler', jobs: [{ schedule: '* * * * *', command: 'true' }] },
    supervisor: { name: 'app-queue', command: 'php artisan queue:work', numprocs: 2 },
  };
  for (const name of Object.keys(samples)) {
    const validate = ajv.compile(modules[name]!.schema);
    assert.ok(validate(samples[name]), `${name}: ${JSON.stringify(validate.errors)}`);
    assert.ok(!validate({ ...samples[name], typo: 1 }), `${name} rejects an unknown key`);
  }
  const file = ajv.compile(modules.file!.schema);
  assert.ok(!file({ path: 'relative' }));
  assert.ok(!file({ path: '/x', mode: 'u+x' }));
  assert.ok(!file({ path: '/x', owner: 'app:root' }), 'no owner:group smuggling');
  assert.ok(!ajv.compile(modules.cron!.schema)({ name: 'app.cron', content: '' }), 'cron skips names with dots');
});

test('file: planning each state', () => {
  const cases: Array<{ state: PathState; params: Parameters<typeof planFileModule>[1]; changed: boolean; error?: RegExp; cmds?: string[][] }> = [
    { state: st('missing'), params: { path: '/srv/x', state: 'directory', mode: '0750' }, changed: true,
      cmds: [['mkdir', '-p', '--', '/srv/x'], ['chmod', '--', '0750', '/srv/x']] },
    { state: st('directory', { mode: '0750' }), params: { path: '/srv/x', state: 'directory', mode: '750' }, changed: false, cmds: [] },
    { state: st('file'), params: { path: '/srv/x', state: 'directory' }, changed: false, error: /is a file, not a directory/ },
    { state: st('missing'), params: { path: '/srv/x' }, changed: false, error: /does not exist/ },
    { state: st('missing', { parentIsDir: false }), params: { path: '/srv/x', state: 'touch' }, changed: false, error: /parent directory/ },
    { state: st('missing'), params: { path: '/srv/x', state: 'touch', owner: 'app' }, changed: true,
      cmds: [['touch', '--', '/srv/x'], ['chown', '--', 'app', '/srv/x']] },
    { state: st('file'), params: { path: '/srv/x', state: 'touch' }, changed: false, cmds: [] },
    { state: st('directory'), params: { path: '/srv/x', state: 'absent' }, changed: true, cmds: [['rm', '-rf', '--', '/srv/x']] },
    { state: st('missing'), params: { path: '/srv/x', state: 'absent' }, changed: false, cmds: [] },
    { state: st('missing'), params: { path: '/..', state: 'absent' }, changed: false, error: /refusing/ },
    { state: st('file'), params: { path: '/srv/x', recurse: true, owner: 'app' }, changed: false, error: /recurse only/ },
    // The top matches but something below does not: chown the tree.
    { state: st('directory', { owner: 'app', recurseMatches: false }), params: { path: '/srv/x', state: 'directory', owner: 'app', recurse: true },
      changed: true, cmds: [['chown', '-R', '-h', '--', 'app', '/srv/x']] },
    { state: st('directory', { owner: 'app', recurseMatches: true }), params: { path: '/srv/x', state: 'directory', owner: 'app', recurse: true },
      changed: false, cmds: [] },
  ];
  for (const c of cases) {
    const plan = planFileModule(c.state, c.params);
    const label = JSON.stringify(c.params);
    if (c.error) assert.match(plan.error ?? '', c.error, label);
    else assert.equal(plan.error, undefined, label);
    assert.equal(fileChanged(plan), c.changed, label);
    if (c.cmds) assert.deepEqual(fileCommands(c.params.path, plan), c.cmds, label);
  }
});

test('symlink: planning', () => {
  const target = st('directory');
  const p = { path: '/home/app/current', target: 'releases/2' };
  assert.equal(resolveTarget(p.path, p.target), '/home/app/releases/2');
  assert.equal(resolveTarget(p.path, '/abs'), '/abs');
  const same = planSymlink(st('link', { target: 'releases/2' }), target, p);
  assert.deepEqual(same, { swap: false, replaceDirectory: false, attrs: [] });
  assert.equal(planSymlink(st('link', { target: 'releases/1' }), target, p).swap, true);
  assert.equal(planSymlink(st('missing'), target, p).swap, true);
  assert.match(planSymlink(st('missing'), st('missing'), p).error ?? '', /does not exist/);
  assert.equal(planSymlink(st('missing'), st('missing'), { ...p, force: true }).swap, true);
  assert.match(planSymlink(st('directory'), target, p).error ?? '', /force/);
  assert.deepEqual(planSymlink(st('directory'), target, { ...p, force: true }), { swap: true, replaceDirectory: true, attrs: [] });
  assert.match(planSymlink(st('missing', { parentIsDir: false }), target, p).error ?? '', /parent directory/);
  const chown = planSymlink(st('link', { target: 'releases/2' }), target, { ...p, owner: 'app' });
  assert.deepEqual(chown, { swap: false, replaceDirectory: false, attrs: [{ attr: 'owner', from: 'root', to: 'app' }] });
});

test('cron: schedules and the rendered file', () => {
  for (const ok of ['* * * * *', '*/5 0-6 1,15 jan mon-fri', '@daily', ' @reboot ']) assert.equal(scheduleError(ok), undefined, ok);
  for (const bad of ['* * * *', '* * * * * *', '@often', '* * * * ;']) assert.ok(scheduleError(bad), bad);
  const r = renderCron({
    name: 'app-scheduler', env: { SHELL: '/bin/bash', PATH: '/usr/bin:/bin' },
    jobs: [{ schedule: '*  * * * *', user: 'app', command: 'cd /home/app/current && php artisan schedule:run >> /dev/null 2>&1' }],
  });
  assert.equal(r.content, [
    '# Managed by Flight (cron app-scheduler): local edits are overwritten.',
    'SHELL=/bin/bash',
    'PATH=/usr/bin:/bin',
    '* * * * * app cd /home/app/current && php artisan schedule:run >> /dev/null 2>&1',
    '',
  ].join('\n'));
  assert.equal(renderCron({ name: 'x', content: 'a' }).content, 'a\n', 'cron needs the final newline');
  assert.match(renderCron({ name: 'a.b', content: '' }).error ?? '', /dots/);
  assert.match(renderCron({ name: 'x', jobs: [{ schedule: '* * * * *', command: 'a\nb' }] }).error ?? '', /one non-empty line/);
  assert.match(renderCron({ name: 'x', jobs: [{ schedule: '* * * * *', user: 'a b', command: 'x' }] }).error ?? '', /invalid user/);
  assert.match(renderCron({ name: 'x', content: 'a', jobs: [] }).error ?? '', /either/);
});

test('supervisor: the program file', () => {
  const r = renderProgram({
    name: 'app-default', command: 'php artisan queue:work --sleep=1', user: 'app', numprocs: 3, directory: '/home/app/current',
    stopwaitsecs: 3600, stdout_logfile: '/home/app/current/storage/logs/worker.log', environment: { A: 'x "y" 50%', B: "it's c\\d", C: '' },
  });
  assert.equal(r.content, [
    '; Managed by Flight (supervisor app-default): local edits are overwritten.',
    '[program:app-default]',
    'command=php artisan queue:work --sleep=1',
    'process_name=%(program_name)s_%(process_num)02d',
    'numprocs=3',
    'user=app',
    'directory=/home/app/current',
    'autostart=true',
    'autorestart=true',
    'stopwaitsecs=3600',
    'stopasgroup=true',
    'killasgroup=true',
    'redirect_stderr=true',
    'stdout_logfile=/home/app/current/storage/logs/worker.log',
    `environment=A='x "y" 50%%',B="it's c\\d",C=""`,
    '',
  ].join('\n'));
  assert.equal(escapePercent('date +%s %(process_num)02d'), 'date +%%s %(process_num)02d');
  assert.match(renderProgram({ name: 'x' }).error ?? '', /command is required/);
  assert.match(renderProgram({ name: 'x', command: 'a\nb' }).error ?? '', /one line/);
  assert.match(renderProgram({ name: 'x', command: 'a', environment: { 'A-B': '1' } }).error ?? '', /environment name/);
  assert.ok(!renderProgram({ name: 'x', command: 'a' }).content!.includes('process_name'), 'one process keeps its plain name');
  assert.match(renderProgram({ name: 'x', command: 'a', environment: { A: `it's "x" now` } }).error ?? '', /both/);
  assert.match(renderProgram({ name: 'x', command: 'a', environment: { A: `"x` } }).error ?? '', /start or end with a quote/);
  assert.match(renderProgram({ name: 'x', command: "sh -c 'a ; b'" }).error ?? '', /comment/);
  assert.ok(renderProgram({ name: 'x', command: 'a;b#x' }).content, 'only whitespace before ; or # starts a comment');
});

test('supervisor: status parsing, from supervisorctl, from XML-RPC, and a socket that is not there', () => {
  assert.equal(parseStatus('installed=0\n', 'q').installed, false);
  const up = parseStatus('installed=1\nvia=ctl\nq:q_00                           RUNNING   pid 12, uptime 0:01:00\nq:q_01   STARTING  \n', 'q');
  assert.deepEqual(up, { installed: true, running: true, loaded: true, processes: [{ name: 'q:q_00', state: 'RUNNING' }, { name: 'q:q_01', state: 'STARTING' }] });
  const down = parseStatus('installed=1\nvia=ctl\nunix:///var/run/supervisor.sock no such file\n', 'q');
  assert.equal(down.running, false);
  assert.deepEqual(parseStatus('installed=1\nvia=down\n', 'q'), { installed: true, running: false, loaded: false, processes: [] }, 'its own socket is not there');
  const unknown = parseStatus('installed=1\nvia=ctl\nq: ERROR (no such group)\n', 'q');
  assert.deepEqual([unknown.running, unknown.loaded], [true, false]);
  const member = (n: string, v: string, t = 'string') => `<member>\n<name>${n}</name>\n<value><${t}>${v}</${t}></value>\n</member>\n`;
  const proc = (name: string, group: string, state: string) =>
    `<value><struct>\n${member('name', name)}${member('group', group)}${member('state', '20', 'int')}${member('statename', state)}${member('spawnerr', '')}</struct></value>\n`;
  const xml = `<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n${
    proc('q_00', 'q', 'RUNNING')}${proc('q_01', 'q', 'FATAL')}${proc('other', 'other', 'RUNNING')}${proc('q', 'q2', 'RUNNING')}</data></array></value>\n</param>\n</params>\n</methodResponse>\n`;
  assert.deepEqual(parseStatus(`installed=1\nvia=rpc\n${xml}`, 'q'), {
    installed: true, running: true, loaded: true, processes: [{ name: 'q:q_00', state: 'RUNNING' }, { name: 'q:q_01', state: 'FATAL' }],
  });
  const single = parseStatus(`installed=1\nvia=rpc\n${xml.replace(/q_00/, 'q').replace(/q_01/g, 'x')}`, 'q');
  assert.deepEqual(single.processes[0], { name: 'q', state: 'RUNNING' });
  assert.deepEqual(parseStatus(`installed=1\nvia=rpc\n${xml}`, 'none'), { installed: true, running: true, loaded: false, processes: [] });
});

test('supervisor: control planning', () => {
  const running: SupervisorStatus = { installed: true, running: true, loaded: true, processes: [{ name: 'q', state: 'RUNNING' }] };
  const down: SupervisorStatus = { installed: true, running: false, loaded: false, processes: [] };
  const p = { name: 'q', command: 'x' };
  const none = { startDaemon: false, update: false, remove: false };
  assert.deepEqual(planControl(p, running, false, true), none, 'no change: nothing to do');
  assert.deepEqual(planControl(p, running, true, true), { ...none, update: true, action: 'start' });
  assert.deepEqual(planControl(p, { ...running, loaded: false, processes: [] }, false, true), { ...none, update: true, action: 'start' });
  assert.deepEqual(planControl(p, { ...running, processes: [{ name: 'q', state: 'FATAL' }] }, false, true), { ...none, action: 'start' });
  assert.deepEqual(planControl(p, down, true, false), { ...none, startDaemon: true, action: 'start' });
  assert.deepEqual(planControl({ ...p, started: false }, down, true, false), none, 'stopped and down: the file is enough');
  assert.deepEqual(planControl({ ...p, started: false }, running, false, true), { ...none, action: 'stop' });
  assert.deepEqual(planControl({ ...p, started: false }, { ...running, processes: [{ name: 'q', state: 'STOPPED' }] }, false, true), none);
  assert.deepEqual(planControl({ ...p, state: 'absent' }, running, false, true), { ...none, remove: true, update: true });
  assert.deepEqual(planControl({ ...p, state: 'absent' }, down, false, true), { ...none, remove: true });
  assert.deepEqual(planControl({ ...p, state: 'absent' }, { ...running, loaded: false, processes: [] }, false, false), none);
});
