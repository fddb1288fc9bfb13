/**
 * The one command-line parser of `flight` and `flight-play`. Each command declares its options
 * (OptionSpec); anything else is refused with exit 5 before anything runs: an unknown option
 * (with the closest known one), a value given to a flag, a missing value, a value of the wrong
 * kind. `--opt=value` and `--opt value` mean the same everywhere; `-vv` counts; `--` ends the
 * options.
 */
import { invalid } from '../errors.js';
import { kindError, type KindName } from '../kinds.js';
import { closest } from '../util/closest.js';

export interface OptionSpec {
  /** The long name, without dashes: `--check`. */
  name: string;
  /** One letter: `-C`. */
  short?: string;
  /**
   * flag: no value (true when given); value: one value (the last one given wins); values: one
   * value each time, all kept (`-e a=1 -e b=2`); count: `-v`, `-vv` (a number).
   */
  takes: 'flag' | 'value' | 'values' | 'count';
  /** The value's placeholder in help, e.g. `DIR`. */
  arg?: string;
  help: string;
  /** The value's kind, or a check returning why a value is refused. */
  check?: KindName | ((value: string) => string | undefined);
}

export type OptionValue = boolean | string | string[] | number;

/** Checks for option values that are not a kind (src/kinds.ts): one home for every command's spec. */
export const wholeNumber = (min: number, max = Infinity) => (v: string): string | undefined =>
  /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max ? undefined : `expected a whole number ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}, got '${v}'`;
export const oneOf = (...allowed: string[]) => (v: string): string | undefined =>
  allowed.includes(v) ? undefined : `expected ${allowed.join(', ')}, got '${v}'`;
export const seconds = (v: string): string | undefined => (/^\d+(\.\d+)?$/.test(v) ? undefined : `expected seconds >= 0, got '${v}'`);
/** A TCP port; 0 where the caller lets the system pick one. */
export const port = (min: 0 | 1) => wholeNumber(min, 65535);

/** --host-key-policy, the same for every command that connects. */
export const HOST_KEY_POLICY_OPTION: OptionSpec = { name: 'host-key-policy', takes: 'value', arg: 'P', help: 'strict (default) | accept-new | off', check: oneOf('strict', 'accept-new', 'off') };

export interface ParsedArgs {
  /** By long name; options not given are absent. */
  options: Record<string, OptionValue>;
  positional: string[];
}

/** Words people bring from other tools, mapped to ours. */
const SYNONYMS: Record<string, string> = { 'dry-run': 'check', dryrun: 'check', verbose: 'v', 'extra-var': 'extra-vars', vars: 'extra-vars', host: 'limit', hosts: 'limit' };

/** The known option a mistyped one most likely meant. */
export function closestOption(word: string, specs: readonly OptionSpec[]): OptionSpec | undefined {
  const synonym = SYNONYMS[word];
  const bySynonym = synonym ? specs.find((s) => s.name === synonym) : undefined;
  if (bySynonym) return bySynonym;
  // One letter is too little to guess from (-i is not -v).
  if (word.length < 2) return undefined;
  const name = closest(word, specs.map((s) => s.name), word.length <= 3 ? 1 : 2);
  return specs.find((s) => s.name === name);
}

const display = (s: OptionSpec): string => (s.name.length === 1 ? `-${s.name}` : `--${s.name}`);

/**
 * `where` names the command in messages: `flight-play`, `flight app:release`. `elsewhere` says
 * why an option this command lacks belongs to another (`inventory`: "flight-play's only").
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], where: string, elsewhere: Record<string, string> = {}): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const options: Record<string, OptionValue> = {};
  const positional: string[] = [];
  const refuse = (message: string) => invalid(`${where}: ${message} (see ${where} --help)`);

  const take = (spec: OptionSpec, value: string | undefined, shown: string) => {
    if (spec.takes === 'flag') {
      if (value !== undefined) throw refuse(`${shown} takes no value, got '${value}'`);
      options[spec.name] = true;
      return;
    }
    if (spec.takes === 'count') {
      if (value !== undefined) throw refuse(`${shown} takes no value, got '${value}'`);
      options[spec.name] = ((options[spec.name] as number | undefined) ?? 0) + 1;
      return;
    }
    if (value === undefined) throw refuse(`${shown} needs a value${spec.arg ? ` (${spec.arg})` : ''}`);
    const checked = typeof spec.check === 'function' ? spec.check(value) : undefined;
    const bad = checked ? `${shown}: ${checked}` : typeof spec.check === 'string' ? kindError(spec.check, value, shown) : undefined;
    if (bad) throw refuse(bad);
    if (spec.takes === 'values') options[spec.name] = [...((options[spec.name] as string[] | undefined) ?? []), value];
    else options[spec.name] = value;
  };

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    const next = (): string | undefined => {
      const v = argv[i + 1];
      // A missing value, not a value: `--limit --check`. `--limit=-x` passes one that starts with '-'.
      if (v === undefined || (v.startsWith('-') && v.length > 1)) return undefined;
      i++;
      return v;
    };
    if (word === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (word.startsWith('--')) {
      const eq = word.indexOf('=');
      const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
      const spec = byName.get(name);
      if (!spec) {
        if (elsewhere[name]) throw refuse(`--${name} is not an option here: ${elsewhere[name]}`);
        const guess = closestOption(name, specs);
        throw refuse(`unknown option --${name}${guess ? `; did you mean ${display(guess)}?` : ''}`);
      }
      const inline = eq < 0 ? undefined : word.slice(eq + 1);
      take(spec, inline ?? (spec.takes === 'value' || spec.takes === 'values' ? next() : undefined), `--${name}`);
      continue;
    }
    if (word.startsWith('-') && word.length > 1) {
      // -vv: one letter repeated, for count options.
      const letters = word.slice(1);
      const counted = byShort.get(letters[0]!) ?? byName.get(letters[0]!);
      if (counted?.takes === 'count' && /^(.)\1*$/.test(letters)) {
        for (let n = 0; n < letters.length; n++) take(counted, undefined, `-${letters[0]}`);
        continue;
      }
      const eq = letters.indexOf('=');
      const letter = eq < 0 ? letters : letters.slice(0, eq);
      const spec = byShort.get(letter) ?? (letter.length === 1 ? byName.get(letter) : undefined);
      if (!spec) {
        if (elsewhere[letter]) throw refuse(`-${letter} is not an option here: ${elsewhere[letter]}`);
        const guess = closestOption(letter, specs);
        throw refuse(`unknown option -${letter}${guess ? `; did you mean ${display(guess)}?` : ''}`);
      }
      const inline = eq < 0 ? undefined : letters.slice(eq + 1);
      take(spec, inline ?? (spec.takes === 'value' || spec.takes === 'values' ? next() : undefined), `-${letter}`);
      continue;
    }
    positional.push(word);
  }
  return { options, positional };
}

/** The options part of a help text, one line each, from the specs. */
export function optionsHelp(specs: readonly OptionSpec[]): string {
  const left = (s: OptionSpec) => {
    const long = s.name.length === 1 ? `-${s.name}` : `--${s.name}`;
    const names = s.short ? `-${s.short}, ${long}` : `    ${long}`;
    return `  ${names}${s.arg ? ` ${s.arg}` : ''}`;
  };
  const width = Math.max(...specs.map((s) => left(s).length)) + 2;
  return specs.map((s) => `${left(s).padEnd(width)}${s.help}`).join('\n');
}
