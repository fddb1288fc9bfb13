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
import { script } from '../src/command.js';
import { parseStatOutput, statCommand, type PathState, type StatRequest } from '../src/module-kit/facts/file.js';
import { APT_STAMP, parsePolicy, parseProbe, PROBE, type AptState } from '../src/module-kit/facts/packages.js';
import { defineModule, type FileDiff } from '../src/module-kit/contract.js';
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
const LOCK_WAIT = 600; // seconds: unattended-upgrades can hold the dpkg lock for minutes

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

/**
 * The prepare step (change path only): download a key given by URL (to a temp name, renamed
 * into place only when complete), refresh the lists when needed, then ask apt about the
 * packages still to install. apt-get waits for the dpkg/lists locks rather than failing on a
 * concurrent unattended-upgrades run.
 */
export const PREPARE_SCRIPT = `kurl=$1 kp=$2 upd=$3
shift 3
if [ -n "$kurl" ]; then
  command -v curl >/dev/null || { echo "curl is needed to download $kurl" >&2; echo step=key; exit 1; }
  tmp="$kp.flight-tmp.$$"
  curl -fsSL --max-time 60 -o "$tmp" "$kurl" && chmod 644 "$tmp" && mv -f "$tmp" "$kp" || { rm -f "$tmp"; echo step=key; exit 1; }
fi
if [ "$upd" = 1 ]; then
  apt-get update -q -o DPkg::Lock::Timeout=${LOCK_WAIT} </dev/null >&2 || { echo step=update; exit 1; }
  mkdir -p /var/lib/apt/periodic && touch ${APT_STAMP}
fi
echo step=policy
[ $# -eq 0 ] || apt-cache policy "$@"`;

/**
 * The install. If an earlier run was interrupted, dpkg refuses everything until
 * `dpkg --configure -a`; that is done once, then the install is retried.
 */
export const INSTALL_SCRIPT = `err=$(mktemp)
run() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=${LOCK_WAIT} \\
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null 2>"$err"
}
if run "$@"; then rm -f "$err"; exit 0; fi
if grep -q 'dpkg --configure -a' "$err"; then
  DEBIAN_FRONTEND=noninteractive dpkg --configure -a --force-confdef --force-confold </dev/null >&2 && run "$@" && { rm -f "$err"; exit 0; }
fi
rc=$?
cat "$err" >&2
rm -f "$err"
exit $rc`;

export function installArgs(names: string[], installRecommends: boolean | undefined): string[] {
  return [...(installRecommends === false ? ['--no-install-recommends'] : []), '--', ...names];
}

/** The repository's two files as write specs (sources always; the key when given as content). */
function repoFiles(r: AptRepository, codename: string): { sources: FileSpec; key?: FileSpec } {
  const attrs = { mode: '0644', owner: 'root', group: 'root' };
  return {
    sources: { path: sourcesPath(r), content: deb822(r, codename), ...attrs },
    key: r.key !== undefined ? { path: keyPath(r), content: r.key.endsWith('\n') ? r.key : `${r.key}\n`, ...attrs } : undefined,
  };
}

export const apt = defineModule<AptParams>({
  name: 'apt',
  schema,
  async run(ctx, p) {
    const bad = validate(p);
    if (bad) return { changed: false, failed: true, msg: bad };
    const names = packageNames(p);
    const r = p.repository;
    const files = r ? repoFiles(r, ctx.facts.codename) : undefined;
    const reqs: StatRequest[] = [];
    if (r && files) {
      reqs.push(fileRequest(files.sources, ctx.diff));
      reqs.push(files.key ? fileRequest(files.key, false) : { path: keyPath(r) });
    }

    // Read: repository files, lists' age and every package's state, in one command.
    const read = await ctx.exec(statCommand(reqs, PROBE, names));
    let states: PathState[];
    let probe: string;
    try {
      ({ states, rest: probe } = parseStatOutput(read.stdout, reqs));
    } catch {
      return { changed: false, failed: true, msg: `cannot read package state: ${outputTail(read)}` };
    }
    if (!probe.includes('now=')) return { changed: false, failed: true, msg: `cannot read package state: ${outputTail(read)}` };
    const st = parseProbe(probe, names);

    // Decide.
    let sourcesPlan: FilePlan | undefined;
    let keyPlan: FilePlan | undefined;
    let keyDownload = false;
    let makeKeyDir = false;
    if (r && files) {
      const [sourcesState, keyState] = states as [PathState, PathState];
      sourcesPlan = planFile(sourcesState, files.sources);
      makeKeyDir = !keyState.parentIsDir;
      const keyStateForPlan = { ...keyState, parentIsDir: true }; // created first when missing
      if (files.key) keyPlan = planFile(keyStateForPlan, files.key);
      else keyDownload = keyState.type === 'missing';
      const error = sourcesPlan.error ?? keyPlan?.error;
      if (error) return { changed: false, failed: true, msg: error };
    }
    const sourcesChanged = !!sourcesPlan && planChanged(sourcesPlan);
    const keyChanged = keyDownload || (!!keyPlan && planChanged(keyPlan));
    const plan = planApt(p, st, sourcesChanged || keyChanged);
    const data: Record<string, unknown> = { installed: [] as string[], cache_updated: false };
    if (plan.toInstall.length === 0 && !plan.updateCache) {
      return { changed: false, msg: `${names.length} package${names.length > 1 ? 's' : ''} present`, data };
    }

    const diffs: FileDiff[] = [];
    if (ctx.diff && sourcesPlan && files) {
      const d = fileDiff(states[0]!, files.sources, sourcesPlan);
      if (d) diffs.push(d);
    }
    const diff = diffs.length ? diffs : undefined;
    // Each step as [what would happen, what happened], for check mode and real runs.
    const steps: Array<[string, string]> = [];
    const kp = r ? keyPath(r) : '';
    if (keyChanged) steps.push([`write ${kp}`, `wrote ${kp}`]);
    if (sourcesChanged) steps.push([`write ${files!.sources.path}`, `wrote ${files!.sources.path}`]);
    if (plan.updateCache) steps.push([`update the package lists (${plan.updateReason})`, `updated the package lists (${plan.updateReason})`]);
    const would = () => `would ${steps.map((s) => s[0]).join(', ')}`;
    const dry = ctx.check;

    // Write the repository (never in check mode).
    if (!dry && files) {
      let error: string | undefined;
      if (makeKeyDir) error = await runSequence(ctx, [['mkdir', '-p', '-m', '0755', path.posix.dirname(kp)]]);
      if (!error && keyPlan && planChanged(keyPlan)) error = await applyFilePlan(ctx, files.key!, keyPlan, states[1]!);
      if (!error && sourcesPlan && sourcesChanged) error = await applyFilePlan(ctx, files.sources, sourcesPlan, states[0]!);
      if (error) return { changed: false, failed: true, msg: `writing the repository failed: ${error}`, diff };
    }

    // Refresh the lists if needed, and ask which missing packages apt can find. Read-only in
    // check mode (it then answers from the current lists); skipped when it has nothing to do.
    const download = !dry && keyDownload;
    const update = !dry && plan.updateCache;
    let policy = '';
    if (download || update || plan.toInstall.length) {
      const prep = await ctx.exec(script(PREPARE_SCRIPT, download ? r!.key_url! : '', kp, update ? '1' : '0', ...plan.toInstall));
      if (prep.code !== 0 || !prep.stdout.includes('step=policy')) {
        const step = prep.stdout.match(/step=(\w+)/)?.[1];
        const what = step === 'key' ? `cannot download the key ${r?.key_url}` : step === 'update' ? 'apt-get update failed' : 'apt failed';
        return { changed: !dry && (sourcesChanged || (keyChanged && !keyDownload)), failed: true, msg: `${what}: ${outputTail(prep)}`, diff, data };
      }
      policy = prep.stdout.slice(prep.stdout.indexOf('step=policy'));
    }
    if (!dry) data.cache_updated = plan.updateCache;
    const candidates = parsePolicy(policy);
    const unknown = plan.toInstall.filter((n) => !candidates.has(n));
    if (unknown.length) {
      if (dry && plan.updateCache) {
        // After the refresh apt may know them; check mode cannot tell.
        steps.push([`install ${plan.toInstall.join(', ')} (not in the current lists: ${unknown.join(', ')})`, '']);
        return { changed: true, msg: would(), diff, data };
      }
      const msg = `package${unknown.length > 1 ? 's' : ''} not found in the apt sources: ${unknown.join(', ')}` +
        (plan.toInstall.length > unknown.length ? ' (nothing installed)' : '');
      return { changed: !dry && steps.length > 0, failed: true, msg, diff, data };
    }
    if (plan.toInstall.length) steps.push([`install ${plan.toInstall.join(', ')}`, `installed ${plan.toInstall.join(', ')}`]);
    if (dry) return { changed: true, msg: would(), diff, data };

    if (plan.toInstall.length) {
      const inst = await ctx.exec(script(INSTALL_SCRIPT, ...installArgs(plan.toInstall, p.install_recommends)));
      if (inst.code !== 0) {
        return { changed: true, failed: true, msg: `apt-get install ${plan.toInstall.join(' ')} failed (rc=${inst.code}): ${outputTail(inst)}`, diff, data };
      }
      data.installed = plan.toInstall;
    }
    return { changed: true, msg: steps.map((s) => s[1]).join(', '), diff, data };
  },
});
