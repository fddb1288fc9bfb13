/**
 * A plain Ansible-style YAML inventory (`-i hosts.yml`), for hosts that are not described by
 * definitions:
 *
 *   all:
 *     hosts:
 *       h1: { ansible_host: 10.0.0.1, ansible_port: 22, ansible_user: deploy, other_var: x }
 *     children:
 *       web: { hosts: { h1: } }
 *     vars: { ansible_ssh_private_key_file: keys/id_ed25519 }
 *
 * `host`, `port`, `user`, `key` are accepted for the ansible_* connection variables. Variables
 * merge as in Ansible: `all` < parent groups < child groups (same depth: by name) < the host.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { invalid } from '../errors.js';
import { createAjv } from '../json-schema.js';
import { ProblemsError, sortProblems, type Problem } from '../problems.js';
import { resolveLocalPath } from '../definitions/normalize.js';
import type { SshOptions } from '../definitions/types.js';
import { formatSchemaErrors, parseYamlWithPositions, type YamlFile, type YamlPath } from '../yaml-positions.js';
import { createInventory } from './inventory.js';
import { mergeSsh } from './ssh.js';
import type { Host, Inventory } from './types.js';

/** No pattern syntax (`:`, `,`, `&`, `!`, `*`, `[`) in names, so every name can be a pattern. */
const NAME = { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*$', expected: "a name of letters, digits, '_', '.' and '-'" } as const;
const text = { type: 'string', minLength: 1 } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;

/** Free-form variables, except the connection ones, whose type is checked. */
const vars = {
  type: ['object', 'null'],
  properties: {
    ansible_host: text,
    host: text,
    ansible_port: port,
    port,
    ansible_user: text,
    user: text,
    ansible_ssh_private_key_file: text,
    key: text,
    ansible_connection: { enum: ['ssh', 'local'] },
  },
} as const;

const inventorySchema = {
  $defs: {
    group: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        hosts: { type: ['object', 'null'], propertyNames: NAME, additionalProperties: vars },
        children: { type: ['object', 'null'], propertyNames: NAME, additionalProperties: { $ref: '#/$defs/group' } },
        vars,
      },
    },
  },
  type: 'object',
  propertyNames: NAME,
  additionalProperties: { $ref: '#/$defs/group' },
} as const;

let validator: ReturnType<ReturnType<typeof createAjv>['compile']> | undefined;

type Vars = Record<string, unknown>;
interface GroupNode {
  hosts?: Record<string, Vars | null> | null;
  children?: Record<string, GroupNode | null> | null;
  vars?: Vars | null;
}
interface GroupDef {
  hosts: string[];
  /** child name -> where it is listed, for errors. */
  children: Map<string, YamlPath>;
  vars: Vars;
}

export interface InventoryFileOptions {
  /** SSH defaults below the file's own variables (e.g. flight.yml's `ssh`). */
  ssh?: SshOptions;
}

export async function loadInventoryFile(file: string, options: InventoryFileOptions = {}): Promise<Inventory> {
  const content = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw invalid(`cannot read inventory file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  return parseInventory(content, file, path.dirname(path.resolve(file)), options);
}

/** The pure part: text in, inventory or every problem (as one error) out. */
export function parseInventory(content: string, file: string, baseDir: string, options: InventoryFileOptions = {}): Inventory {
  const yf = parseYamlWithPositions(content, file);
  const fail = (problems: Problem[]) => new ProblemsError(`invalid inventory ${file}`, sortProblems(problems));
  if (yf.problems.length) throw fail(yf.problems);
  validator ??= createAjv().compile(inventorySchema);
  const data = yf.value ?? {};
  if (!validator(data)) throw fail(formatSchemaErrors(validator.errors ?? [], yf));
  return build(data as Record<string, GroupNode | null>, yf, baseDir, options, fail);
}

function build(
  top: Record<string, GroupNode | null>,
  yf: YamlFile,
  baseDir: string,
  options: InventoryFileOptions,
  fail: (p: Problem[]) => Error,
): Inventory {
  const problems: Problem[] = [];
  const defs = new Map<string, GroupDef>();
  const hostOrder: string[] = [];
  const hostOwnVars = new Map<string, Vars>();
  const def = (name: string) => {
    let d = defs.get(name);
    if (!d) defs.set(name, (d = { hosts: [], children: new Map(), vars: {} }));
    return d;
  };

  const walk = (name: string, node: GroupNode | null, at: YamlPath) => {
    const d = def(name);
    for (const [h, hv] of Object.entries(node?.hosts ?? {})) {
      if (!hostOwnVars.has(h)) {
        hostOrder.push(h);
        hostOwnVars.set(h, {});
      }
      Object.assign(hostOwnVars.get(h)!, hv ?? {});
      if (!d.hosts.includes(h)) d.hosts.push(h);
    }
    Object.assign(d.vars, node?.vars ?? {});
    for (const [child, childNode] of Object.entries(node?.children ?? {})) {
      const childAt = [...at, 'children', child];
      if (child === 'all') {
        problems.push(yf.problemAtKey(childAt, "'all' is the group of every host: it cannot be a child"));
        continue;
      }
      d.children.set(child, childAt);
      walk(child, childNode, childAt);
    }
  };
  def('all');
  for (const [name, node] of Object.entries(top)) {
    walk(name, node, [name]);
    if (name !== 'all') def('all').children.set(name, [name]);
  }

  // A group that contains itself would make its members endless: report, with where.
  const visiting: string[] = [];
  const visited = new Set<string>();
  const visit = (g: string) => {
    if (visited.has(g)) return;
    visiting.push(g);
    for (const [child, at] of defs.get(g)!.children) {
      const loop = visiting.indexOf(child);
      if (loop !== -1) {
        problems.push(yf.problemAtKey(at, `group '${child}' contains itself (${[...visiting.slice(loop), child].join(' > ')})`));
      } else visit(child);
    }
    visiting.pop();
    visited.add(g);
  };
  visit('all');
  if (problems.length) throw fail(problems);

  const memo = new Map<string, Set<string>>();
  const membersOf = (g: string): Set<string> => {
    let m = memo.get(g);
    if (!m) {
      const d = defs.get(g)!;
      m = new Set([...d.hosts, ...[...d.children.keys()].flatMap((c) => [...membersOf(c)])]);
      memo.set(g, m);
    }
    return m;
  };
  // Depth from `all` (the longest way down) orders variable precedence: deeper groups win.
  const parents = new Map<string, string[]>();
  for (const [g, d] of defs) for (const c of d.children.keys()) parents.set(c, [...(parents.get(c) ?? []), g]);
  const depthMemo = new Map<string, number>();
  const depthOf = (g: string): number => {
    if (g === 'all') return 0;
    let n = depthMemo.get(g);
    if (n === undefined) depthMemo.set(g, (n = Math.max(0, ...(parents.get(g) ?? []).map((p) => depthOf(p) + 1))));
    return n;
  };
  const members = new Map([...defs.keys()].map((g) => [g, membersOf(g)] as const));
  // `all` holds every host, wherever it was listed.
  members.set('all', new Set(hostOrder));

  const grouped = new Set([...members].filter(([g]) => g !== 'all').flatMap(([, hs]) => [...hs]));
  const groups = new Map<string, string[]>();
  for (const g of defs.keys()) groups.set(g, hostOrder.filter((h) => members.get(g)!.has(h)));
  groups.set('ungrouped', hostOrder.filter((h) => !grouped.has(h)));

  const hosts: Host[] = hostOrder.map((name) => {
    const hostGroups = [...groups.keys()].filter((g) => groups.get(g)!.includes(name));
    const byPrecedence = hostGroups
      .filter((g) => g !== 'ungrouped')
      .sort((a, b) => depthOf(a) - depthOf(b) || a.localeCompare(b));
    const vars: Vars = {};
    for (const g of byPrecedence) Object.assign(vars, defs.get(g)!.vars);
    Object.assign(vars, hostOwnVars.get(name));
    return {
      name,
      address: String(vars.ansible_host ?? vars.host ?? name),
      connection: vars.ansible_connection === 'local' ? 'local' : 'ssh',
      ssh: mergeSsh(options.ssh, connectionSettings(vars, baseDir)),
      vars,
      groups: hostGroups,
    };
  });
  return createInventory(hosts, groups);
}

function connectionSettings(vars: Vars, baseDir: string): SshOptions {
  const pick = <T>(...keys: string[]) => keys.map((k) => vars[k]).find((v) => v !== undefined && v !== null) as T | undefined;
  const key = pick<string>('ansible_ssh_private_key_file', 'key');
  const out: SshOptions = {};
  const user = pick<string>('ansible_user', 'user');
  const port = pick<number>('ansible_port', 'port');
  if (user !== undefined) out.user = user;
  if (port !== undefined) out.port = port;
  if (key !== undefined) out.key = resolveLocalPath(key, baseDir);
  return out;
}
