/**
 * Ansible host patterns, as pure functions over host and group names:
 *
 *   all, *          every host (not the implicit localhost)
 *   web             a group, or a host
 *   lab-*, web-?    globs over host and group names
 *   ~web-\d+        a regular expression over host and group names
 *   web[0], web[-1], web[0:2], web[1:]
 *                   hosts of a group (or glob) by position; the end of a range is included
 *   a:b, a,b        union
 *   a:&b            intersection
 *   a:!b            exclusion
 *
 * As in Ansible, unions are taken first, then intersections, then exclusions, whatever their
 * order in the pattern; a pattern of exclusions only starts from `all`. The result is in
 * inventory order. A term that names nothing known is an error: a typo in `hosts:` must not run
 * a play on no host and report success.
 */
import { invalid } from '../errors.js';

export interface PatternUniverse {
  /** Hosts in inventory order. */
  hostNames: readonly string[];
  /** group -> member host names. */
  groups: ReadonlyMap<string, readonly string[]>;
  /** Hosts matched only by their exact name (the implicit localhost), after hostNames. */
  implicit?: readonly string[];
}

export type TermKind = 'union' | 'intersection' | 'exclusion';

export interface Term {
  kind: TermKind;
  text: string;
}

/** Splits on ':' and ',' outside brackets (`web[0:2]` is one term). */
export function parsePattern(pattern: string): Term[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of pattern.trim()) {
    if (ch === '[') depth++;
    if (ch === ']') depth = Math.max(0, depth - 1);
    if ((ch === ':' || ch === ',') && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((raw) => {
    const p = raw.trim();
    const kind: TermKind = p.startsWith('&') ? 'intersection' : p.startsWith('!') ? 'exclusion' : 'union';
    const text = kind === 'union' ? p : p.slice(1).trim();
    if (!text) throw invalid(`empty term in host pattern '${pattern}'`);
    return { kind, text };
  });
}

export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const isGlob = (t: string) => /[*?]/.test(t);
const SUBSCRIPT = /^(.+)\[(-?\d+)?(?::(-?\d+)?)?\]$/;

function termHosts(text: string, u: PatternUniverse, pattern: string): string[] {
  const all = u.hostNames;
  if (text === 'all' || text === '*') return [...all];

  const sub = SUBSCRIPT.exec(text);
  if (sub && (sub[2] !== undefined || text.includes(':'))) {
    const base = termHosts(sub[1]!, u, pattern);
    const index = (s: string | undefined, fallback: number) => {
      if (s === undefined) return fallback;
      const n = Number(s);
      return n < 0 ? base.length + n : n;
    };
    if (!text.includes(':')) {
      const i = index(sub[2], 0);
      return base[i] !== undefined ? [base[i]!] : [];
    }
    // Ansible ranges include their end: web[0:1] is two hosts.
    return base.slice(index(sub[2], 0), index(sub[3], base.length - 1) + 1);
  }

  let matchName: ((name: string) => boolean) | undefined;
  if (text.startsWith('~')) {
    let re: RegExp;
    try {
      re = new RegExp(text.slice(1));
    } catch (e) {
      throw invalid(`bad regular expression '${text}' in host pattern '${pattern}': ${(e as Error).message}`);
    }
    matchName = (n) => re.test(n);
  } else if (isGlob(text)) {
    const re = globToRegExp(text);
    matchName = (n) => re.test(n);
  }

  const found = new Set<string>();
  let known = false;
  if (matchName) {
    for (const [g, members] of u.groups) {
      if (!matchName(g)) continue;
      known = true;
      members.forEach((m) => found.add(m));
    }
    for (const h of all) {
      if (!matchName(h)) continue;
      known = true;
      found.add(h);
    }
  } else {
    const members = u.groups.get(text);
    if (members) {
      known = true;
      members.forEach((m) => found.add(m));
    }
    if (all.includes(text) || u.implicit?.includes(text)) {
      known = true;
      found.add(text);
    }
  }
  if (!known) {
    const where = text === pattern.trim() ? '' : ` (in host pattern '${pattern}')`;
    throw invalid(`no host or group matches '${text}'${where}`);
  }
  return [...found];
}

/** The host names a pattern selects, in inventory order. */
export function selectHostNames(pattern: string, u: PatternUniverse): string[] {
  const terms = parsePattern(pattern);
  const unions = terms.filter((t) => t.kind === 'union');
  let selected = new Set<string>(unions.length ? unions.flatMap((t) => termHosts(t.text, u, pattern)) : u.hostNames);
  for (const t of terms.filter((t) => t.kind === 'intersection')) {
    const keep = new Set(termHosts(t.text, u, pattern));
    selected = new Set([...selected].filter((h) => keep.has(h)));
  }
  for (const t of terms.filter((t) => t.kind === 'exclusion')) {
    for (const h of termHosts(t.text, u, pattern)) selected.delete(h);
  }
  const order = [...u.hostNames, ...(u.implicit ?? [])];
  return order.filter((h) => selected.has(h));
}
