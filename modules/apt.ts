/**
 * apt: make sure packages are installed. Installs only: never removes, never upgrades (an
 * upgrade belongs in a deliberate task, not in a re-run of provisioning).
 *
 * Round trips: a no-change run is one command (dpkg-query for all names, the package lists'
 * age, the repository's sources file and key). When something changes: the repository files
 * are written through the shared atomic writer (one each), one command refreshes the lists if
 * needed and asks apt which of the missing packages it can find, then one installs. A package
 * apt cannot find fails the task, naming it, before anything is installed: a typo must not
 * half-provision a server. apt needs root: give the task (or play) `become: true` when the
 * login user is not root.
 *
 * A repository is a deb822 `.sources` file with `Signed-By` pointing at its own key under
 * /etc/apt/keyrings (never the global trusted.gpg, which would let that key sign for every
 * repository).
 */
import path from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { parseStatOutput, statCommand, type PathState, type StatRequest } from '../src/module-kit/facts/file.js';
import { parsePolicy, parseProbe, PROBE, type AptState } from '../src/module-kit/facts/packages.js';
import { installCommand, prepareCommand } from '../src/module-kit/apt-commands.js';
import { defineModule, type FileDiff, type ModuleContext, type ModuleResult } from '../src/module-kit/contract.js';
import { runSequence } from '../src/module-kit/batch.js';
import { applyFilePlan, fileDiff, fileRequest, planChanged, planFile, type FilePlan, type FileSpec } from '../src/module-kit/write.js';
import { outputTail } from './command.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }] },
    state: { enum: ['present'] },
    update_cache: { type: 'boolean' },
    cache_valid_time: { type: 'integer', minimum: 0, description: 'Seconds: with update_cache, refresh only when the lists are older than this.' },
    install_recommends: { type: 'boolean', description: "apt's default is to install recommended packages; false passes --no-install-recommends." },
    repository: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'url'],
      properties: {
        // apt ignores files in sources.list.d whose names use other characters.
        name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', description: 'File name stem: /etc/apt/sources.list.d/<name>.sources, /etc/apt/keyrings/<name>.asc|.gpg' },
        url: { type: 'string', minLength: 1 },
        suite: { type: 'string', minLength: 1, description: "Default: the host's codename. A suite ending in `/` is a flat repository (no components)." },
        components: { type: 'array', items: { type: 'string', minLength: 1 } },
        key_url: { type: 'string', minLength: 1, description: 'Downloaded by the host once (kept while the file exists). `.gpg` URLs are binary keys.' },
        key: { type: 'string', minLength: 1, description: 'An ASCII-armored public key.' },
      },
    },
  },
} as const;

/** The arguments, as the schema declares them. */
export type AptParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;
/** The `repository` argument, as the schema declares it. */
export type AptRepository = NonNullable<AptParams['repository']>;

const PKG = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$/;

export const sourcesPath = (r: Pick<AptRepository, 'name'>) => `/etc/apt/sources.list.d/${r.name}.sources`;

export function keyPath(r: AptRepository): string {
  const binary = r.key === undefined && r.key_url !== undefined && /\.gpg$/i.test(new URL(r.key_url).pathname);
  return `/etc/apt/keyrings/${r.name}.${binary ? 'gpg' : 'asc'}`;
}

/** The deb822 sources file for a repository. */
export function deb822(r: AptRepository, codename: string): string {
  const suite = r.suite ?? codename;
  const flat = suite.endsWith('/');
  const lines = ['Types: deb', `URIs: ${r.url}`, `Suites: ${suite}`];
  if (!flat) lines.push(`Components: ${(r.components ?? ['main']).join(' ')}`);
  lines.push(`Signed-By: ${keyPath(r)}`);
  return `${lines.join('\n')}\n`;
}

/** Problems with the arguments that the schema cannot express; undefined when fine. */
export function validate(p: AptParams): string | undefined {
  const names = packageNames(p);
  if (names.length === 0) return 'name: no packages given';
  const bad = names.filter((n) => !PKG.test(n));
  if (bad.length) return `invalid package name${bad.length > 1 ? 's' : ''}: ${bad.join(', ')}`;
  if (p.cache_valid_time !== undefined && !p.update_cache) return 'cache_valid_time needs update_cache: true';
  const r = p.repository;
  if (r) {
    if ((r.key === undefined) === (r.key_url === undefined)) return 'repository: give exactly one of key or key_url';
    if (r.key !== undefined && !r.key.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) return 'repository.key must be an ASCII-armored public key';
    const suite = r.suite ?? '';
    if (suite.endsWith('/') && r.components?.length) return 'repository: a flat suite (ending in /) takes no components';
    for (const [k, v] of [['url', r.url], ['suite', suite], ...(r.components ?? []).map((c) => ['components', c])] as const) {
      // One line, no spaces: each goes into a deb822 field as a single value.
      if (/[\s]/.test(v)) return `repository.${k} must not contain whitespace: ${JSON.stringify(v)}`;
    }
    try {
      new URL(r.url);
      if (r.key_url) new URL(r.key_url);
    } catch {
      return 'repository: url and key_url must be absolute URLs';
    }
  }
  return undefined;
}

export function packageNames(p: Pick<AptParams, 'name'>): string[] {
  const list = Array.isArray(p.name) ? p.name : p.name.split(/[\s,]+/);
  return [...new Set(list.map((n) => n.trim()).filter(Boolean))];
}

export interface AptPlan {
  toInstall: string[];
  updateCache: boolean;
  /** Why the lists are refreshed, for the message. */
  updateReason?: string;
}

/** Pure decision from arguments and state; `repoChanged`: the sources file or key is written. */
export function planApt(p: AptParams, st: AptState, repoChanged: boolean): AptPlan {
  const names = packageNames(p);
  const plan: AptPlan = { toInstall: names.filter((n) => !st.installed.has(n)), updateCache: false };
  const age = st.now - st.cacheTime;
  if (repoChanged) {
    // A new or changed source has no lists yet: apt cannot see its packages until refreshed.
    plan.updateCache = true;
    plan.updateReason = 'repository changed';
  } else if (p.update_cache) {
    if (!st.haveLists) {
      plan.updateCache = true;
      plan.updateReason = 'no package lists';
    } else if (p.cache_valid_time === undefined || age > p.cache_valid_time || age < 0) {
      plan.updateCache = true;
      plan.updateReason = p.cache_valid_time === undefined ? 'update_cache' : `lists are ${age}s old`;
    }
  }
  return plan;
}

/** The repository's files as write specs (sources always; the key when given as content). */
function repoFiles(r: AptRepository, codename: string): { sources: FileSpec; key?: FileSpec; keyPath: string } {
  const attrs = { mode: '0644', owner: 'root', group: 'root' };
  return {
    sources: { path: sourcesPath(r), content: deb822(r, codename), ...attrs },
    key: r.key !== undefined ? { path: keyPath(r), content: r.key.endsWith('\n') ? r.key : `${r.key}\n`, ...attrs } : undefined,
    keyPath: keyPath(r),
  };
}
type RepoFiles = ReturnType<typeof repoFiles>;

/** What the read compared against and found. */
export interface AptFacts {
  /** The repository's files as they must be, when one is given; `states` are theirs: [sources, key]. */
  repo?: RepoFiles;
  states: PathState[];
  packages: AptState;
}

export interface AptDecision {
  error?: string;
  sources?: FilePlan;
  key?: FilePlan;
  /** The key is given by URL and is not on the host yet. */
  keyDownload: boolean;
  /** /etc/apt/keyrings is missing. */
  makeKeyDir: boolean;
  sourcesChanged: boolean;
  keyChanged: boolean;
  plan: AptPlan;
}

/** Decide (pure): the repository's files first, then the lists and the packages. */
export function decideApt(p: AptParams, f: AptFacts): AptDecision {
  const d: AptDecision = { keyDownload: false, makeKeyDir: false, sourcesChanged: false, keyChanged: false, plan: { toInstall: [], updateCache: false } };
  if (f.repo) {
    const [sourcesState, keyState] = f.states as [PathState, PathState];
    d.sources = planFile(sourcesState, f.repo.sources);
    d.makeKeyDir = !keyState.parentIsDir;
    if (f.repo.key) d.key = planFile({ ...keyState, parentIsDir: true }, f.repo.key); // its folder is made first
    else d.keyDownload = keyState.type === 'missing';
    d.error = d.sources.error ?? d.key?.error;
    if (d.error) return d;
  }
  d.sourcesChanged = !!d.sources && planChanged(d.sources);
  d.keyChanged = d.keyDownload || (!!d.key && planChanged(d.key));
  d.plan = planApt(p, f.packages, d.sourcesChanged || d.keyChanged);
  return d;
}

export const aptChanged = (d: AptDecision): boolean => d.plan.toInstall.length > 0 || d.plan.updateCache;

/** The steps before the install, each as [what check mode says it would do, what a run reports done] (pure). */
export function aptSteps(d: AptDecision, repo: RepoFiles | undefined): Array<[string, string]> {
  const steps: Array<[string, string]> = [];
  if (d.keyChanged) steps.push([`write ${repo!.keyPath}`, `wrote ${repo!.keyPath}`]);
  if (d.sourcesChanged) steps.push([`write ${repo!.sources.path}`, `wrote ${repo!.sources.path}`]);
  if (d.plan.updateCache) steps.push([`update the package lists (${d.plan.updateReason})`, `updated the package lists (${d.plan.updateReason})`]);
  return steps;
}

/** One command: the repository files, the lists' age and every package's state. */
async function read(ctx: ModuleContext, p: AptParams, names: string[]): Promise<AptFacts | { error: string }> {
  const repo = p.repository && repoFiles(p.repository, ctx.facts.codename);
  const reqs: StatRequest[] = repo ? [fileRequest(repo.sources, ctx.diff), repo.key ? fileRequest(repo.key, false) : { path: repo.keyPath }] : [];
  const res = await ctx.exec(statCommand(reqs, PROBE, names));
  const error = `cannot read package state: ${outputTail(res)}`;
  let parsed: ReturnType<typeof parseStatOutput>;
  try {
    parsed = parseStatOutput(res.stdout, reqs);
  } catch {
    return { error };
  }
  if (!parsed.rest.includes('now=')) return { error };
  return { repo, states: parsed.states, packages: parseProbe(parsed.rest, names) };
}

/** Download and refresh as asked, then which of the packages to install apt can find; or why not. */
async function askApt(ctx: ModuleContext, p: AptParams, d: AptDecision, f: AptFacts, o: { download: boolean; update: boolean }): Promise<Set<string> | string> {
  if (!o.download && !o.update && !d.plan.toInstall.length) return new Set();
  const r = p.repository;
  const prep = await ctx.exec(prepareCommand({ keyUrl: o.download ? r!.key_url : '', keyPath: f.repo?.keyPath ?? '', update: o.update, names: d.plan.toInstall }));
  if (prep.code !== 0 || !prep.stdout.includes('step=policy')) {
    const step = prep.stdout.match(/step=(\w+)/)?.[1];
    const what = step === 'key' ? `cannot download the key ${r?.key_url}` : step === 'update' ? 'apt-get update failed' : 'apt failed';
    return `${what}: ${outputTail(prep)}`;
  }
  return parsePolicy(prep.stdout.slice(prep.stdout.indexOf('step=policy')));
}

const notFound = (toInstall: string[], unknown: string[]): string =>
  `package${unknown.length > 1 ? 's' : ''} not found in the apt sources: ${unknown.join(', ')}` + (toInstall.length > unknown.length ? ' (nothing installed)' : '');

interface Change {
  d: AptDecision;
  f: AptFacts;
  diff?: FileDiff[];
  data: { installed: string[]; cache_updated: boolean };
}

/** Check mode: nothing is written, downloaded or refreshed; apt answers from the lists it has now. */
async function preview(ctx: ModuleContext, p: AptParams, { d, f, diff, data }: Change): Promise<ModuleResult> {
  const would = aptSteps(d, f.repo).map((s) => s[0]);
  const candidates = await askApt(ctx, p, d, f, { download: false, update: false });
  if (typeof candidates === 'string') return { changed: false, failed: true, msg: candidates, diff, data };
  const { toInstall, updateCache } = d.plan;
  const unknown = toInstall.filter((n) => !candidates.has(n));
  if (unknown.length && !updateCache) return { changed: false, failed: true, msg: notFound(toInstall, unknown), diff, data };
  // After the refresh apt may know them; check mode cannot tell.
  if (toInstall.length) would.push(`install ${toInstall.join(', ')}${unknown.length ? ` (not in the current lists: ${unknown.join(', ')})` : ''}`);
  return { changed: true, msg: `would ${would.join(', ')}`, diff, data };
}

/** Write the repository, refresh the lists and ask apt, then install. */
async function apply(ctx: ModuleContext, p: AptParams, { d, f, diff, data }: Change): Promise<ModuleResult> {
  const done = aptSteps(d, f.repo).map((s) => s[1]);
  if (f.repo) {
    let error: string | undefined;
    if (d.makeKeyDir) error = await runSequence(ctx, [['mkdir', '-p', '-m', '0755', path.posix.dirname(f.repo.keyPath)]]);
    if (!error && d.key && planChanged(d.key)) error = await applyFilePlan(ctx, f.repo.key!, d.key, f.states[1]!);
    if (!error && d.sources && d.sourcesChanged) error = await applyFilePlan(ctx, f.repo.sources, d.sources, f.states[0]!);
    if (error) return { changed: false, failed: true, msg: `writing the repository failed: ${error}`, diff };
  }
  const candidates = await askApt(ctx, p, d, f, { download: d.keyDownload, update: d.plan.updateCache });
  if (typeof candidates === 'string') return { changed: d.sourcesChanged || (d.keyChanged && !d.keyDownload), failed: true, msg: candidates, diff, data };
  data.cache_updated = d.plan.updateCache;
  const { toInstall } = d.plan;
  const unknown = toInstall.filter((n) => !candidates.has(n));
  if (unknown.length) return { changed: done.length > 0, failed: true, msg: notFound(toInstall, unknown), diff, data };
  if (toInstall.length) {
    const inst = await ctx.exec(installCommand(toInstall, p.install_recommends));
    if (inst.code !== 0) return { changed: true, failed: true, msg: `apt-get install ${toInstall.join(' ')} failed (rc=${inst.code}): ${outputTail(inst)}`, diff, data };
    data.installed = toInstall;
    done.push(`installed ${toInstall.join(', ')}`);
  }
  return { changed: true, msg: done.join(', '), diff, data };
}

export const apt = defineModule<AptParams>({
  name: 'apt',
  schema,
  async run(ctx, p) {
    const bad = validate(p);
    if (bad) return { changed: false, failed: true, msg: bad };
    const names = packageNames(p);
    const f = await read(ctx, p, names);
    if ('error' in f) return { changed: false, failed: true, msg: f.error };
    const d = decideApt(p, f);
    if (d.error) return { changed: false, failed: true, msg: d.error };
    const data = { installed: [] as string[], cache_updated: false };
    if (!aptChanged(d)) return { changed: false, msg: `${names.length} package${names.length > 1 ? 's' : ''} present`, data };
    const sourcesDiff = ctx.diff && d.sources && f.repo ? fileDiff(f.states[0]!, f.repo.sources, d.sources) : undefined;
    const change: Change = { d, f, diff: sourcesDiff ? [sourcesDiff] : undefined, data };
    // The one place apt reads check mode, and why it is no runOperation: which packages apt can
    // find is asked in the round trip that refreshes the lists (after the repository is written),
    // so check mode is not "the run without apply": it asks apt too, from the current lists.
    return ctx.check ? preview(ctx, p, change) : apply(ctx, p, change);
  },
});
