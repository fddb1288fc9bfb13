/**
 * Nunjucks, configured so that an undefined variable is an error that names the variable,
 * never an empty string (an empty path in `rm -rf {{ dir }}/x` is how servers get wiped).
 * Compiled templates are cached per source so a template used on 50 hosts compiles once.
 */
import nunjucks from 'nunjucks';
import fs from 'node:fs';
import path from 'node:path';
import { invalid } from './errors.js';

export type Vars = Record<string, unknown>;

function makeEnv(searchPaths: string[]): nunjucks.Environment {
  const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(searchPaths, { noCache: false }), {
    throwOnUndefined: true,
    autoescape: false,
    trimBlocks: true,
    lstripBlocks: true,
  });
  env.addFilter('quote', (v: unknown) => `'${String(v).replace(/'/g, `'\\''`)}'`);
  // Ansible's: a mapping with the second's keys over the first's.
  env.addFilter('combine', (a: unknown, b: unknown) => ({ ...(a as object), ...(b as object) }));
  env.addFilter('to_json', (v: unknown) => JSON.stringify(v));
  env.addFilter('bool', (v: unknown) => v === true || v === 'true' || v === 'yes' || v === 1 || v === '1');
  env.addFilter('default', (v: unknown, d: unknown) => (v === undefined || v === null ? d : v));
  // `exts | prefix('php8.2-')` builds package lists without loops in YAML.
  env.addFilter('prefix', (v: unknown, p: string) => (Array.isArray(v) ? v.map((x) => `${p}${x}`) : `${p}${v}`));
  // `+` on lists concatenates text in nunjucks, so lists are joined with `a | union(b)`.
  env.addFilter('union', (a: unknown, b: unknown) => [...new Set([...(Array.isArray(a) ? a : [a]), ...(Array.isArray(b) ? b : [b])])]);
  // Ansible's form `list | selectattr('id', 'equalto', x)`; nunjucks' own takes only an attribute.
  env.addFilter('selectattr', (list: unknown, attr: string, test?: string, value?: unknown) => {
    if (!Array.isArray(list)) return [];
    const get = (o: unknown) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[attr] : undefined);
    if (test === undefined) return list.filter((o) => Boolean(get(o)));
    if (test === 'equalto' || test === '==' || test === 'eq') return list.filter((o) => get(o) === value);
    if (test === 'ne' || test === '!=') return list.filter((o) => get(o) !== value);
    throw new Error(`selectattr: unknown test '${test}' (equalto, ne)`);
  });
  // An app command as the release runs it: `artisan X` with the app's PHP version, anything
  // else as written. `item | artisan(application.php)`.
  env.addFilter('artisan', (v: unknown, php: unknown) => {
    const cmd = String(v);
    return cmd.startsWith('artisan ') ? `/usr/bin/php${String(php)} ${cmd}` : cmd;
  });
  // Ansible's `list | map(attribute='name')` and `list | max`.
  env.addFilter('map', (list: unknown, kw?: { attribute?: string }) => {
    if (!kw?.attribute) throw new Error("map: only map(attribute='...') is supported");
    return Array.isArray(list) ? list.map((o) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[kw.attribute!] : undefined)) : [];
  });
  env.addFilter('max', (list: unknown) => (Array.isArray(list) && list.length ? Math.max(...list.map(Number)) : undefined));
  env.addFilter('basename', (v: unknown) => path.posix.basename(String(v)));
  env.addFilter('dirname', (v: unknown) => path.posix.dirname(String(v)));
  return env;
}

const envs = new Map<string, nunjucks.Environment>();
function envFor(searchPaths: string[]): nunjucks.Environment {
  const key = searchPaths.join('\0');
  let env = envs.get(key);
  if (!env) envs.set(key, (env = makeEnv(searchPaths)));
  return env;
}

const compiled = new Map<string, nunjucks.Template>();

/**
 * Turn nunjucks' "attempted to output null or undefined value" into something a person can act
 * on: nunjucks gives only a line and column, so the expression is read back from the source.
 */
function explain(err: unknown, where: string, source?: string): Error {
  const raw = err instanceof Error ? err.message : String(err);
  const line = raw.replace(/\s+/g, ' ').trim();
  if (/undefined/i.test(raw)) {
    const name = undefinedName(raw, source);
    return invalid(`${where}: undefined variable${name ? ` '${name}'` : ''}${name ? '' : ` (${line})`}`, err);
  }
  return invalid(`${where}: template error: ${line}`, err);
}

/** The expression at nunjucks' reported position: `{{ build.release_id }}` -> build.release_id. */
function undefinedName(message: string, source: string | undefined): string | undefined {
  const pos = message.match(/\[Line (\d+), Column (\d+)\]/);
  if (!pos || source === undefined) return undefined;
  const text = source.split('\n')[Number(pos[1]) - 1] ?? '';
  // The column points into or just before the `{{`: take the first expression starting there.
  const from = text.lastIndexOf('{{', Number(pos[2]) + 2);
  const expr = text.slice(Math.max(0, from)).match(/\{\{-?\s*\(?\s*([A-Za-z_][\w.]*(?:\[[^\]]*\][\w.]*)*)/);
  return expr?.[1];
}

export function hasExpression(s: string): boolean {
  return s.includes('{{') || s.includes('{%');
}

/** Render a string. `where` names the task/argument for the error message. */
export function renderString(src: string, vars: Vars, where: string): string {
  if (!hasExpression(src)) return src;
  let tpl = compiled.get(src);
  try {
    if (!tpl) {
      tpl = new nunjucks.Template(src, envFor([]), undefined, true);
      compiled.set(src, tpl);
    }
    return tpl.render(vars);
  } catch (err) {
    throw explain(err, where, src);
  }
}

/**
 * Render a value recursively. A string that is exactly one expression (`"{{ list }}"`) keeps the
 * expression's type, as in Ansible, so `loop: "{{ servers }}"` yields a list, not its text.
 */
export function renderValue(value: unknown, vars: Vars, where: string): unknown {
  if (typeof value === 'string') {
    // One `{{ ... }}` with no other `{{` or `}}` inside: `{}` literals (`default({})`) are fine.
    const whole = value.match(/^\s*\{\{\s*((?:(?!\{\{|\}\})[\s\S])+?)\s*\}\}\s*$/);
    if (whole) return evaluate(whole[1]!, vars, where);
    return renderString(value, vars, where);
  }
  if (Array.isArray(value)) return value.map((v, i) => renderValue(v, vars, `${where}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = renderValue(v, vars, `${where}.${k}`);
    return out;
  }
  return value;
}

/** Evaluate one nunjucks expression to a JS value (used by `when`, `loop`, whole-string args). */
export function evaluate(expr: string, vars: Vars, where: string): unknown {
  const key = `__expr__${expr}`;
  let tpl = compiled.get(key);
  let result: unknown;
  try {
    if (!tpl) {
      // Render the expression through a capturing filter so the value keeps its type.
      tpl = new nunjucks.Template(`{{ (${expr}) | __capture }}`, exprEnv(), undefined, true);
      compiled.set(key, tpl);
    }
    captured.value = undefined;
    captured.set = false;
    tpl.render(vars);
    if (!captured.set) throw new Error(`undefined variable in expression '${expr}'`);
    result = captured.value;
  } catch (err) {
    throw explain(err, where, `{{ (${expr}) | __capture }}`);
  }
  if (result === undefined) throw invalid(`${where}: undefined variable '${expr.trim()}'`);
  return result;
}

const captured: { value: unknown; set: boolean } = { value: undefined, set: false };
let exprEnvironment: nunjucks.Environment | undefined;
function exprEnv(): nunjucks.Environment {
  if (!exprEnvironment) {
    exprEnvironment = makeEnv([]);
    exprEnvironment.addFilter('__capture', (v: unknown) => {
      captured.value = v;
      captured.set = true;
      return '';
    });
  }
  return exprEnvironment;
}

/** Render a template file found on `searchPaths`. */
export function renderFile(name: string, vars: Vars, searchPaths: string[]): string {
  const env = envFor(searchPaths);
  try {
    return env.render(name, vars);
  } catch (err) {
    if (!searchPaths.some((p) => fs.existsSync(path.join(p, name)))) {
      throw invalid(`template '${name}' not found in ${searchPaths.join(', ')}`);
    }
    const file = searchPaths.map((p) => path.join(p, name)).find((f) => fs.existsSync(f));
    throw explain(err, `template ${name}`, file ? fs.readFileSync(file, 'utf8') : undefined);
  }
}
