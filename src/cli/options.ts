/** Command-line options shared by `flight-play` and the `flight` verbs. */
import fs from 'node:fs';
import YAML from 'yaml';
import { invalid } from '../errors.js';
import { kindError, type KindName } from '../kinds.js';
import type { HostKeyPolicy } from '../inventory/types.js';
import type { Vars } from '../templating.js';
import { HOST_KEY_POLICY_OPTION, parseArgs, wholeNumber, type OptionSpec, type OptionValue } from './args.js';

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

/** The options of `flight-play`; the `flight` verbs take these too, but `--inventory`. */
export const PLAY_OPTIONS: readonly OptionSpec[] = [
  { name: 'extra-vars', short: 'e', takes: 'values', arg: 'VARS', help: 'k=v pairs, @vars.yml, or a JSON mapping (repeatable; highest precedence)' },
  { name: 'defs', takes: 'value', arg: 'DIR', help: 'definitions folder with flight.yml, clusters/, apps/ (default: $FLIGHT_DEFS, else .)', check: 'local-path' },
  { name: 'inventory', short: 'i', takes: 'value', arg: 'FILE', help: 'a plain Ansible-style YAML inventory instead of definitions', check: 'local-path' },
  { name: 'check', short: 'C', takes: 'flag', help: 'dry run: change nothing, report what would change' },
  { name: 'diff', short: 'D', takes: 'flag', help: 'show before/after of every file written (or that would be)' },
  { name: 'limit', short: 'l', takes: 'value', arg: 'PATTERN', help: 'only these hosts (host patterns: web, lab-1, a:b, a:&b, a:!b, lab-*)' },
  { name: 'tags', short: 't', takes: 'values', arg: 'T1,T2', help: 'only tasks with these tags' },
  { name: 'skip-tags', takes: 'values', arg: 'T1,T2', help: 'skip tasks with these tags' },
  { name: 'start-at-task', takes: 'value', arg: 'NAME', help: 'start at the task with this name' },
  { name: 'forks', short: 'f', takes: 'value', arg: 'N', help: "hosts in parallel (default: flight.yml's forks, else 25)", check: wholeNumber(1) },
  HOST_KEY_POLICY_OPTION,
  { name: 'list-hosts', takes: 'flag', help: 'print the hosts each play would touch, then exit' },
  { name: 'list-tasks', takes: 'flag', help: 'print the tasks, then exit' },
  { name: 'json', takes: 'flag', help: 'one JSON event per line on stdout, ending with a recap' },
  { name: 'plain', takes: 'flag', help: 'line-per-event output (default when not a terminal or in CI)' },
  { name: 'v', takes: 'count', help: 'more output; -vv shows every command and its output' },
  { name: 'help', short: 'h', takes: 'flag', help: 'this help' },
  { name: 'version', takes: 'flag', help: 'the version' },
];

/**
 * The variables Flight's playbooks take from `-e`, with their kinds: in any playbook, such a
 * value is checked before anything runs (it lands in host patterns, paths and commands).
 */
export const EXTRA_VAR_KINDS: Readonly<Record<string, KindName>> = { app: 'app-name', sha: 'sha', cluster: 'cluster-name', server: 'server-name', to: 'release-id' };

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

const list = (v: OptionValue | undefined): string[] | undefined =>
  v === undefined ? undefined : ([] as unknown[]).concat(v).flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean);

/** Options for a playbook run from the command line, checked against `specs` (PLAY_OPTIONS, or a verb's). */
export function parsePlayOptions(argv: string[], specs: readonly OptionSpec[] = PLAY_OPTIONS, where = 'flight-play', elsewhere: Record<string, string> = {}): PlayOptions & { help: boolean; version: boolean; raw: Record<string, OptionValue> } {
  const { options: a, positional } = parseArgs(argv, specs, where, elsewhere);
  const ci = !!process.env.CI;
  return {
    defs: (a.defs as string | undefined) ?? process.env.FLIGHT_DEFS ?? process.cwd(),
    inventoryFile: a.inventory as string | undefined,
    extraVars: parseExtraVars((a['extra-vars'] as string[] | undefined) ?? []),
    check: a.check === true,
    diff: a.diff === true,
    limit: a.limit as string | undefined,
    tags: list(a.tags),
    skipTags: list(a['skip-tags']),
    startAtTask: a['start-at-task'] as string | undefined,
    verbosity: (a.v as number | undefined) ?? 0,
    forks: a.forks === undefined ? undefined : Number(a.forks),
    output: a.json ? 'json' : a.plain || ci || !process.stdout.isTTY ? 'plain' : 'listr',
    hostKeyPolicy: a['host-key-policy'] as HostKeyPolicy | undefined,
    listHosts: a['list-hosts'] === true,
    listTasks: a['list-tasks'] === true,
    positional,
    help: a.help === true,
    version: a.version === true,
    /** Every option as parsed, the verbs' own included. */
    raw: a,
  };
}
