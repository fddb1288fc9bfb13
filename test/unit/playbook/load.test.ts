import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPlaybook, loadTaskFile, type ModuleCatalog } from '../../../src/playbook/load.js';
import { catalogOf } from '../../../src/module-kit/catalog.js';
import { modules } from '../../../modules/index.js';
import { PLAYBOOKS_DIR } from '../../../src/paths.js';

const catalog: ModuleCatalog = new Map([
  ['file', { properties: ['path', 'state', 'mode'], required: ['path'] }],
  ['command', { properties: ['cmd', 'chdir'], required: ['cmd'], freeForm: 'cmd' }],
  ['set_fact', { properties: [], required: [], openArgs: true }],
]);

function write(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flight-pb-')), 'pb.yml');
  fs.writeFileSync(file, text);
  return file;
}

function errorsOf(text: string): string[] {
  try {
    loadPlaybook(write(text), catalog, 'pb.yml');
  } catch (err) {
    return (err as Error).message.split('\n').slice(1).map((l) => l.trim());
  }
  return [];
}

test('a good playbook parses into plays and tasks', () => {
  const pb = loadPlaybook(write(`
- name: web
  hosts: web:&app_shop
  serial: 1
  vars: { a: 1 }
  tasks:
    - name: dir
      file: { path: /srv/x, state: directory }
      notify: reload
      tags: [dirs]
    - command: uptime
    - block:
        - file: { path: /a }
      rescue:
        - command: "echo rescued"
  handlers:
    - name: reload
      command: service nginx reload
`), catalog, 'pb.yml');
  const [play] = pb.plays;
  assert.equal(play!.hosts, 'web:&app_shop');
  assert.equal(play!.serial, 1);
  assert.equal(play!.tasks.length, 3);
  assert.deepEqual(play!.tasks[0]!.notify, ['reload']);
  assert.deepEqual(play!.tasks[1]!.args, { cmd: 'uptime' });
  assert.equal(play!.tasks[1]!.name, 'command uptime');
  assert.equal(play!.tasks[2]!.block!.length, 1);
  assert.equal(play!.tasks[2]!.rescue!.length, 1);
  assert.equal(play!.handlers[0]!.name, 'reload');
  assert.deepEqual(play!.tasks[0]!.pos, { file: 'pb.yml', line: 7, col: 7 });
});

test('errors name file, line, column and what was expected; all reported at once', () => {
  const errors = errorsOf(`
- hosts: all
  taks: []
  tasks:
    - name: typo in module
      fiel: { path: /x }
    - name: bad arg
      file: { path: /x, mdoe: "0644" }
    - name: missing arg
      file: { state: directory }
    - name: two modules
      file: { path: /x }
      command: ls
`);
  assert.deepEqual(errors, [
    "pb.yml:3:3: unknown play keyword 'taks' (expected one of: name, hosts, vars, vars_files, serial, any_errors_fatal, max_fail_percentage, gather_facts, become, become_user, tasks, pre_tasks, post_tasks, handlers, tags)",
    "pb.yml:6:7: unknown module or task keyword 'fiel' (modules: command, file, set_fact)",
    "pb.yml:8:25: file: unknown argument 'mdoe' (expected one of: path, state, mode)",
    "pb.yml:10:13: file: missing required argument 'path'",
    "pb.yml:13:7: unknown task keyword 'command' (a task runs exactly one module; 'file' is already given)",
  ]);
});

test('YAML syntax errors carry their position', () => {
  const errors = errorsOf('- hosts: all\n  tasks: [\n');
  assert.equal(errors.length >= 1, true);
  assert.match(errors[0]!, /^pb\.yml:\d+:\d+: YAML syntax error/);
});

test('a play without hosts and a non-list playbook are rejected', () => {
  assert.deepEqual(errorsOf('- tasks: []\n'), ['pb.yml:1:3: play is missing `hosts:` (a host pattern such as `all` or `web`)']);
  assert.deepEqual(errorsOf('hosts: all\n'), ['pb.yml:1:1: a playbook is a list of plays (`- hosts: ...`)']);
});

test("every built-in playbook and task file loads against the modules' own argument specs", () => {
  const builtin = catalogOf(modules);
  const files = fs.readdirSync(PLAYBOOKS_DIR).filter((f) => f.endsWith('.yml'));
  assert.ok(files.includes('remove.yml') && files.includes('release.yml'), files.join(', '));
  for (const f of files) assert.ok(loadPlaybook(path.join(PLAYBOOKS_DIR, f), builtin, f).plays.length > 0, f);
  for (const f of fs.readdirSync(path.join(PLAYBOOKS_DIR, 'tasks'))) assert.ok(loadTaskFile(path.join(PLAYBOOKS_DIR, 'tasks', f), builtin, f).length > 0, f);
});
