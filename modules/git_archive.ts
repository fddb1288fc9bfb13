/**
 * git_archive: on the control machine (delegate_to: localhost), keep a bare mirror of the app's
 * repository and turn one commit into a .tar.gz that every server receives. The mirror is cloned
 * once and fetched only when the commit is not in it yet, so repeated releases of known commits
 * touch no network at all. A ref that is not a commit of the repository fails here, before any
 * server has been touched.
 *
 * The cache prunes itself: each use touches the mirror and archive it used, and a run that
 * makes an archive deletes archives unused for ARCHIVE_DAYS and mirrors unused for MIRROR_DAYS
 * (a mirror another run holds the lock of is left alone). Nothing a server needs lives only
 * here: a pruned archive is made again from the mirror, a pruned mirror cloned again.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { KINDS } from '../src/kinds.js';
import { defineModule } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['repo', 'sha'],
  properties: {
    repo: { type: 'string', minLength: 1, pattern: '^[^-]' },
    sha: { type: 'string', description: 'A full or abbreviated commit sha (hex, 4-40 characters).' },
    cache_dir: { type: 'string', pattern: '^/', description: 'Where mirrors and archives are kept (default ~/.cache/flight).' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type GitArchiveParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** Days an unused archive (one commit) and an unused mirror (one repository) are kept. */
export const ARCHIVE_DAYS = 30;
export const MIRROR_DAYS = 90;

/** Where mirrors and archives are kept on the control machine, under its user's home. */
export const CACHE_UNDER_HOME = '.cache/flight';

/** The bare mirror of `repo` in the cache folder: one per repository URL, named stably and path-safely. */
export function mirrorDir(cache: string, repo: string): string {
  return `${cache}/mirrors/${Buffer.from(repo).toString('base64url')}.git`;
}

/** The `sha` kind (src/kinds.ts): 4 to 40 lowercase hex characters. */
const isSha = KINDS.get('sha')!.test;

/** Release ids sort by time and name the commit: 20261126T051200Z-1a2b3c4d5e6f. */
export function releaseId(sha: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${sha.slice(0, 12)}`;
}

/** Where the archive of a commit (its full sha) is kept in the cache folder. */
const archivePath = (cache: string, full: string): string => `${cache}/archives/${full}.tar.gz`;

// $1 repo, $2 mirror dir, $3 sha, $4 the archives folder (archivePath). Prints the full sha on
// success, then `cached` when its archive is there (touched: this use marks it used); exit 3
// when not a commit. Two releases from one repository at once (two apps of one repo, e.g. under
// `flight serve`) would fetch into the same mirror and fail on git's ref locks: where flock(1)
// exists they take turns on a lock file beside the mirror.
const RESOLVE = `
set -e
repo=$1 mirror=$2 sha=$3
mkdir -p "$(dirname "$mirror")"
if command -v flock >/dev/null 2>&1; then exec 9>"$mirror.lock"; flock 9; fi
if [ ! -d "$mirror" ]; then
  git clone --quiet --mirror -- "$repo" "$mirror.tmp.$$" >&2
  mv "$mirror.tmp.$$" "$mirror"
fi
if ! full=$(git -C "$mirror" rev-parse --verify --quiet "$sha^{commit}"); then
  git -C "$mirror" fetch --quiet --prune origin '+refs/*:refs/*' >&2
  full=$(git -C "$mirror" rev-parse --verify --quiet "$sha^{commit}") || exit 3
fi
touch "$mirror"
echo "$full"
if [ -s "$4/$full.tar.gz" ]; then touch "$4/$full.tar.gz"; echo cached; fi
`;

// $1 mirror, $2 full sha, $3 archive path. Writes under a temp name so a crash leaves no half
// archive; only a run that makes one prunes (releases of cached commits never get here).
// $4 the cache folder, $5 and $6 the days unused archives and mirrors are kept.
const ARCHIVE = `
set -e
mkdir -p "$(dirname "$3")"
git -C "$1" archive --format=tar.gz -o "$3.tmp.$$" "$2"
mv "$3.tmp.$$" "$3"
find "$4/archives" -maxdepth 1 -type f -name '*.tar.gz*' -mtime +"$5" -delete 2>/dev/null || true
for m in "$4"/mirrors/*.git; do
  [ -d "$m" ] && [ -n "$(find "$m" -maxdepth 0 -mtime +"$6")" ] || continue
  if command -v flock >/dev/null 2>&1; then
    ( flock -n 9 && rm -rf "$m" "$m.lock" ) 9>"$m.lock" || true
  else
    rm -rf "$m"
  fi
done
`;

/** The commit, resolved in the mirror, and whether its archive is made already. */
interface ArchiveFacts {
  cache: string;
  mirror: string;
  full: string;
  archive: string;
  cached: boolean;
}

export const git_archive = defineModule<GitArchiveParams>({
  name: 'git_archive',
  schema,
  run: runOperation<GitArchiveParams, ArchiveFacts, { create: boolean; error?: never }>({
    async read(ctx, p) {
      const fail = (msg: string) => ({ result: { changed: false, failed: true, msg } });
      const sha = p.sha.toLowerCase();
      if (!isSha(sha)) return fail(`'${p.sha}' is not a commit sha (expected 4 to 40 hex characters)`);
      const home = (await ctx.exec(script('printf %s "$HOME"'))).stdout;
      const cache = p.cache_dir ?? `${home}/${CACHE_UNDER_HOME}`;
      const mirror = mirrorDir(cache, p.repo);
      const resolved = await ctx.exec(script(RESOLVE, p.repo, mirror, sha, `${cache}/archives`));
      if (resolved.code === 3) return fail(`${p.sha} is not a commit of ${p.repo}`);
      if (resolved.code !== 0) return fail(`cannot read ${p.repo}: ${resolved.stderr.trim().split('\n').pop()}`);
      const [full = '', cached] = resolved.stdout.trim().split('\n');
      return { cache, mirror, full, archive: archivePath(cache, full), cached: cached === 'cached' };
    },
    decide: (p, f) => ({ create: !f.cached }),
    changed: (d) => d.create,
    async apply(ctx, p, d, f) {
      const made = await ctx.exec(script(ARCHIVE, f.mirror, f.full, f.archive, f.cache, String(ARCHIVE_DAYS), String(MIRROR_DAYS)));
      return made.code === 0 ? undefined : `git archive ${f.full}: ${made.stderr.trim()}`;
    },
    result: (ctx, p, d, f, changed) => ({
      changed,
      // Wording only: a check says whether the archive would be made, a run where it is.
      msg: ctx.check ? `${f.full.slice(0, 12)} (archive ${changed ? 'would be created' : 'cached'})` : `${f.full.slice(0, 12)} -> ${f.archive}`,
      data: { sha: f.full, short: f.full.slice(0, 12), archive: f.archive, release_id: releaseId(f.full) },
    }),
  }),
});
