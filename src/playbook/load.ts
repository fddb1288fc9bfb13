/**
 * Reads a playbook (or an included task file), checks its shape, and resolves each task's
 * module. Every error carries file:line:col and they are all reported together, before any
 * host is contacted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type YAMLMap } from 'yaml';
import { invalid } from '../errors.js';
import type { Play, Playbook, Position, Task } from './types.js';

/** What the loader needs to know about modules: their names and argument schemas. */
export interface ModuleSpec {
  properties: string[];
  required: string[];
  /** A module that takes its main argument as a bare string (`command: ls -l`). */
  freeForm?: string;
  /** Any argument name is accepted (set_fact). */
  openArgs?: boolean;
}
export type ModuleCatalog = Map<string, ModuleSpec>;

const PLAY_KEYS = new Set([
  'name', 'hosts', 'vars', 'vars_files', 'serial', 'any_errors_fatal', 'max_fail_percentage',
  'gather_facts', 'become', 'become_user', 'tasks', 'pre_tasks', 'post_tasks', 'handlers', 'tags',
]);
const TASK_KEYS = new Set([
  'name', 'when', 'loop', 'with_items', 'loop_control', 'register', 'notify', 'tags', 'ignore_errors',
  'changed_when', 'failed_when', 'run_once', 'delegate_to', 'become', 'become_user', 'check_mode',
  'vars', 'block', 'rescue', 'always', 'include_tasks', 'import_tasks', 'meta', 'listen',
]);
const META_ACTIONS = new Set(['flush_handlers', 'end_play', 'end_host']);

class Collector {
  errors: string[] = [];
  constructor(readonly file: string, readonly lines: LineCounter) {}
  pos(node: Node | null | undefined): Position {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line, col };
  }
  error(node: Node | null | undefined, msg: string): void {
    const p = this.pos(node);
    this.errors.push(`${p.file}:${p.line}:${p.col}: ${msg}`);
  }
}

const asList = (v: unknown): string[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v.map(String) : [String(v)];

function pairsOf(map: YAMLMap): Array<{ key: string; keyNode: Node; value: Node | null }> {
  return map.items.map((p) => ({
    key: isScalar(p.key) ? String(p.key.value) : String(p.key),
    keyNode: p.key as Node,
    value: (p.value as Node | null) ?? null,
  }));
}

function toJS(node: Node | null): unknown {
  return node ? node.toJSON() : null;
}

function parseTasks(c: Collector, node: Node | null, where: string, catalog: ModuleCatalog, handler = false): Task[] {
  if (node === null) return [];
  if (!isSeq(node)) {
    c.error(node, `${where}: expected a list of tasks`);
    return [];
  }
  const tasks: Task[] = [];
  for (const item of node.items) {
    const t = parseTask(c, item as Node, catalog, handler);
    if (t) tasks.push(t);
  }
  return tasks;
}

function parseTask(c: Collector, node: Node, catalog: ModuleCatalog, handler: boolean): Task | undefined {
  if (!isMap(node)) {
    c.error(node, 'a task must be a mapping (e.g. `- name: ...` then a module such as `file:`)');
    return undefined;
  }
  const task: Task = {
    name: '', pos: c.pos(node), args: {}, when: [], loopVar: 'item', notify: [], tags: [],
    ignoreErrors: false, runOnce: false, vars: {}, listen: [],
  };
  const moduleKeys: Array<{ key: string; keyNode: Node; value: Node | null }> = [];
  for (const pair of pairsOf(node)) {
    const { key, value } = pair;
    if (!TASK_KEYS.has(key)) {
      moduleKeys.push(pair);
      continue;
    }
    const v = toJS(value);
    switch (key) {
      case 'name': task.name = String(v); break;
      case 'when': task.when = asList(v); break;
      case 'loop': case 'with_items': task.loop = v; break;
      case 'loop_control': {
        const lc = (v ?? {}) as Record<string, unknown>;
        if (typeof lc.loop_var === 'string') task.loopVar = lc.loop_var;
        break;
      }
      case 'register':
        if (typeof v !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) c.error(value, 'register: expected a variable name');
        else task.register = v;
        break;
      case 'notify': task.notify = asList(v); break;
      case 'listen': task.listen = asList(v); break;
      case 'tags': task.tags = asList(v); break;
      case 'ignore_errors': task.ignoreErrors = v === true; break;
      case 'changed_when': task.changedWhen = typeof v === 'boolean' ? v : String(v); break;
      case 'failed_when': task.failedWhen = typeof v === 'boolean' ? v : String(v); break;
      case 'run_once': task.runOnce = v === true; break;
      case 'delegate_to': task.delegateTo = String(v); break;
      case 'become': task.become = v === true; break;
      case 'become_user': task.becomeUser = String(v); break;
      case 'check_mode': task.checkMode = typeof v === 'boolean' ? v : undefined; break;
      case 'vars':
        if (v && typeof v === 'object' && !Array.isArray(v)) task.vars = v as Record<string, unknown>;
        else c.error(value, 'vars: expected a mapping');
        break;
      case 'block': task.block = parseTasks(c, value, 'block', catalog, handler); break;
      case 'rescue': task.rescue = parseTasks(c, value, 'rescue', catalog, handler); break;
      case 'always': task.always = parseTasks(c, value, 'always', catalog, handler); break;
      case 'include_tasks': case 'import_tasks':
        if (typeof v !== 'string') c.error(value, `${key}: expected a file name`);
        else task.includeTasks = v;
        break;
      case 'meta':
        if (typeof v !== 'string' || !META_ACTIONS.has(v)) c.error(value, `meta: expected one of ${[...META_ACTIONS].join(', ')}`);
        else task.meta = v as Task['meta'];
        break;
    }
  }
  const kinds = [task.block, task.includeTasks, task.meta].filter((x) => x !== undefined).length;
  if (moduleKeys.length > 1) {
    c.error(moduleKeys[1]!.keyNode, `unknown task keyword '${moduleKeys[1]!.key}' (a task runs exactly one module; '${moduleKeys[0]!.key}' is already given)`);
    return undefined;
  }
  if (moduleKeys.length === 1) {
    if (kinds > 0) {
      c.error(moduleKeys[0]!.keyNode, `unknown task keyword '${moduleKeys[0]!.key}'`);
      return undefined;
    }
    const { key, keyNode, value } = moduleKeys[0]!;
    const spec = catalog.get(key);
    if (!spec) {
      const known = [...catalog.keys()].sort().join(', ');
      c.error(keyNode, `unknown module or task keyword '${key}' (modules: ${known})`);
      return undefined;
    }
    task.module = key;
    task.args = moduleArgs(c, key, spec, value);
  } else if (kinds === 0) {
    c.error(node, 'task has no module (expected one module such as `file:`, or block/include_tasks/meta)');
    return undefined;
  } else if (kinds > 1) {
    c.error(node, 'a task may have only one of block, include_tasks, meta');
    return undefined;
  }
  if (task.rescue && !task.block) c.error(node, 'rescue: only allowed beside block');
  if (task.always && !task.block) c.error(node, 'always: only allowed beside block');
  if (!task.name) task.name = defaultName(task);
  if (handler && !task.name) c.error(node, 'a handler needs a name');
  return task;
}

function moduleArgs(c: Collector, module: string, spec: ModuleSpec, value: Node | null): Record<string, unknown> {
  const raw = toJS(value);
  if (typeof raw === 'string' && spec.freeForm) return { [spec.freeForm]: raw };
  if (raw === null && spec.required.length === 0) return {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || !isMap(value)) {
    c.error(value, `${module}: expected a mapping of arguments (${spec.properties.join(', ')})`);
    return {};
  }
  const args = raw as Record<string, unknown>;
  for (const pair of pairsOf(value)) {
    if (!spec.openArgs && !spec.properties.includes(pair.key)) {
      c.error(pair.keyNode, `${module}: unknown argument '${pair.key}' (expected one of: ${spec.properties.join(', ')})`);
    }
  }
  for (const req of spec.required) {
    if (!(req in args)) c.error(value, `${module}: missing required argument '${req}'`);
  }
  return args;
}

function defaultName(t: Task): string {
  if (t.module) {
    const first = Object.values(t.args)[0];
    return typeof first === 'string' || typeof first === 'number' ? `${t.module} ${first}` : t.module;
  }
  if (t.includeTasks) return `include_tasks ${t.includeTasks}`;
  if (t.meta) return `meta ${t.meta}`;
  return 'block';
}

function parsePlay(c: Collector, node: Node, catalog: ModuleCatalog, index: number): Play | undefined {
  if (!isMap(node)) {
    c.error(node, 'a play must be a mapping with at least `hosts:` and `tasks:`');
    return undefined;
  }
  const play: Play = {
    name: '', pos: c.pos(node), hosts: '', vars: {}, varsFiles: [], anyErrorsFatal: false,
    gatherFacts: true, tasks: [], handlers: [], tags: [],
  };
  const pre: Task[] = [];
  const post: Task[] = [];
  for (const { key, keyNode, value } of pairsOf(node)) {
    const v = toJS(value);
    switch (key) {
      case 'name': play.name = String(v); break;
      case 'hosts': play.hosts = Array.isArray(v) ? v.join(':') : String(v ?? ''); break;
      case 'vars':
        if (v && typeof v === 'object' && !Array.isArray(v)) play.vars = v as Record<string, unknown>;
        else c.error(value, 'vars: expected a mapping');
        break;
      case 'vars_files': play.varsFiles = asList(v); break;
      case 'serial':
        if (typeof v === 'number' || (typeof v === 'string' && /^\d+%?$/.test(v))) play.serial = v;
        else c.error(value, 'serial: expected a number of hosts or a percentage like "30%"');
        break;
      case 'any_errors_fatal': play.anyErrorsFatal = v === true; break;
      case 'max_fail_percentage':
        if (typeof v === 'number' && v >= 0 && v <= 100) play.maxFailPercentage = v;
        else c.error(value, 'max_fail_percentage: expected a number from 0 to 100');
        break;
      case 'gather_facts': play.gatherFacts = v !== false; break;
      case 'become': play.become = v === true; break;
      case 'become_user': play.becomeUser = String(v); break;
      case 'tags': play.tags = asList(v); break;
      case 'tasks': play.tasks = parseTasks(c, value, 'tasks', catalog); break;
      case 'pre_tasks': pre.push(...parseTasks(c, value, 'pre_tasks', catalog)); break;
      case 'post_tasks': post.push(...parseTasks(c, value, 'post_tasks', catalog)); break;
      case 'handlers': play.handlers = parseTasks(c, value, 'handlers', catalog, true); break;
      default:
        c.error(keyNode, `unknown play keyword '${key}' (expected one of: ${[...PLAY_KEYS].join(', ')})`);
    }
  }
  play.tasks = [...pre, ...play.tasks, ...post];
  if (!play.hosts) c.error(node, 'play is missing `hosts:` (a host pattern such as `all` or `web`)');
  if (!play.name) play.name = `play ${index + 1} (${play.hosts})`;
  return play;
}

function readYaml(file: string, displayName: string): { doc: ReturnType<typeof parseDocument>; c: Collector } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw invalid(`${displayName}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`, err);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const c = new Collector(displayName, lines);
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    c.errors.push(`${displayName}:${line}:${col}: YAML syntax error: ${e.message.split('\n')[0]}`);
  }
  return { doc, c };
}

function fail(c: Collector): never {
  throw invalid(`${c.errors.length} error${c.errors.length > 1 ? 's' : ''} in ${c.file}:\n  ${c.errors.join('\n  ')}`);
}

export function loadPlaybook(file: string, catalog: ModuleCatalog, displayName = file): Playbook {
  const { doc, c } = readYaml(file, displayName);
  const plays: Play[] = [];
  if (c.errors.length === 0) {
    const root = doc.contents as Node | null;
    if (!isSeq(root)) c.error(root, 'a playbook is a list of plays (`- hosts: ...`)');
    else root.items.forEach((item, i) => {
      const p = parsePlay(c, item as Node, catalog, i);
      if (p) plays.push(p);
    });
  }
  if (c.errors.length) fail(c);
  return { path: file, dir: path.dirname(path.resolve(file)), plays };
}

/** An included task file: a plain list of tasks. */
export function loadTaskFile(file: string, catalog: ModuleCatalog, displayName = file): Task[] {
  const { doc, c } = readYaml(file, displayName);
  const tasks = c.errors.length ? [] : parseTasks(c, doc.contents as Node | null, 'tasks', catalog);
  if (c.errors.length) fail(c);
  return tasks;
}
