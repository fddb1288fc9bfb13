/** Command-line options shared by `flight-play` and the `flight` verbs. */
import fs from 'node:fs';
import minimist from 'minimist';
import YAML from 'yaml';
import { invalid } from '../errors.js';
import { kindError, type KindName } from '../kinds.js';
import type { HostKeyPolicy } from '../inventory/types.js';
import type { Vars } from '../templating.js';

export interface PlayOptions {
  defs: string;
  inventoryFile?: string;
  extraVars: Vars;
  check: boolean;
  diff: boolean;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  startAtTask?: string;
  verbosity: number;
  forks?: number;
  output: 'listr' | 'plain' | 'json';
  hostKeyPolicy?: HostKeyPolicy;
  listHosts: boolean;
  listTasks: boolean;
  positional: string[];
}

export const PLAY_FLAGS = {
  string: ['defs', 'inventory', 'extra-vars', 'limit', 'tags', 'skip-tags', 'start-at-task', 'forks', 'host-key-policy'],
  boolean: ['check', 'diff', 'json', 'plain', 'list-hosts', 'list-tasks', 'help', 'version', 'v'],
  alias: { i: 'inventory', e: 'extra-vars', C: 'check', D: 'diff', l: 'limit', t: 'tags', f: 'forks', h: 'help' },
};

/**
 * The variables Flight's playbooks take from `-e`, with their kinds: in any playbook, such a
 * value is checked before anything runs (it lands in host patterns, paths and commands).
 */
export const EXTRA_VAR_KINDS: Readonly<Record<string, KindName>> = { app: 'app-name', sha: 'sha', cluster: 'cluster-name', server: 'server-name' };

/** Parse `-e` values: `k=v k2=v2`, `@file.yml`, or a JSON/YAML mapping. Later ones win. */
export function parseExtraVars(values: string[]): Vars {
  const vars = parseExtraVarsUnchecked(values);
  for (const [name, kindName] of Object.entries(EXTRA_VAR_KINDS)) {
    if (!(name in vars)) continue;
    const bad = kindError(kindName, vars[name], `-e ${name}:`);
    if (bad) throw invalid(bad);
  }
  return vars;
}

function parseExtraVarsUnchecked(values: string[]): Vars {
  const vars: Vars = {};
  for (const raw of values) {
    if (raw.startsWith('@')) {
      const file = raw.slice(1);
      let parsed: unknown;
      try {
        parsed = YAML.parse(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        throw invalid(`-e @${file}: ${(err as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalid(`-e @${file}: expected a mapping of variables`);
      Object.assign(vars, parsed);
    } else if (raw.trim().startsWith('{')) {
      const parsed = YAML.parse(raw);
      if (!parsed || typeof parsed !== 'object') throw invalid(`-e ${raw}: expected a mapping`);
      Object.assign(vars, parsed);
    } else {
      // `-e a=1 b=2` in one word, like ansible-playbook; values stay strings.
      for (const pair of raw.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw invalid(`-e ${pair}: expected key=value, @file.yml or a JSON mapping`);
        const key = pair.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw invalid(`-e ${pair}: '${key}' is not a valid variable name`);
        vars[key] = pair.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2');
      }
    }
  }
  return vars;
}

const list = (v: unknown): string[] | undefined =>
  v === undefined ? undefined : ([] as unknown[]).concat(v).flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);

/** -v, -vv, -vvv: minimist folds repeated short flags, so count them from argv. */
function verbosityOf(argv: string[]): number {
  let n = 0;
  for (const a of argv) if (/^-v+$/.test(a)) n += a.length - 1;
  return n;
}

export function parsePlayOptions(argv: string[]): PlayOptions & { help: boolean; version: boolean } {
  const a = minimist(argv.filter((x) => !/^-v+$/.test(x)), { ...PLAY_FLAGS, stopEarly: false });
  const forks = a.forks === undefined ? undefined : Number(a.forks);
  if (forks !== undefined && (!Number.isInteger(forks) || forks < 1)) throw invalid(`--forks: expected a positive whole number, got '${a.forks}'`);
  const policy = a['host-key-policy'];
  if (policy !== undefined && !['strict', 'accept-new', 'off'].includes(policy)) {
    throw invalid(`--host-key-policy: expected strict, accept-new or off, got '${policy}'`);
  }
  const ci = !!process.env.CI;
  return {
    defs: a.defs ?? process.env.FLIGHT_DEFS ?? process.cwd(),
    inventoryFile: a.inventory,
    extraVars: parseExtraVars(([] as string[]).concat(a['extra-vars'] ?? [])),
    check: !!a.check,
    diff: !!a.diff,
    limit: a.limit,
    tags: list(a.tags),
    skipTags: list(a['skip-tags']),
    startAtTask: a['start-at-task'],
    verbosity: verbosityOf(argv),
    forks,
    output: a.json ? 'json' : a.plain || ci || !process.stdout.isTTY ? 'plain' : 'listr',
    hostKeyPolicy: policy,
    listHosts: !!a['list-hosts'],
    listTasks: !!a['list-tasks'],
    positional: a._.map(String),
    help: !!a.help,
    version: !!a.version,
  };
}
