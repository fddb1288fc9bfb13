/**
 * release_prune: keep the newest `keep` releases and remove older ones, but never the release
 * `current` points to, nor the one before it (the rollback target), nor anything outside the
 * releases folder. Release ids sort by time, so "newest" is plain name order.
 *
 * Only complete releases (with a REVISION) count: a half-made one left by a run that was killed
 * or could not reach this server to clean up is not a release anyone can switch to, so it must
 * not take a kept release's place nor stand in for the rollback target; it is removed (this runs
 * under the app's deploy lock, so no other run is preparing it).
 */
import { script } from '../src/command.js';
import { defineModule } from '../src/module.js';
import { pathSchema } from '../src/remote/write.js';

export interface ReleasePruneParams {
  releases: string;
  current: string;
  keep: number;
}

/**
 * Decide (pure) which releases go. `names` in any order; `current` may be undefined. `complete`,
 * when given, names the complete releases: the others (except current) always go, and neither
 * count toward `keep` nor as the one before current.
 */
export function planPrune(names: string[], current: string | undefined, keep: number, complete?: ReadonlySet<string>): string[] {
  const sorted = [...names].sort();
  const releases = complete ? sorted.filter((n) => complete.has(n) || n === current) : sorted;
  const protect = new Set(releases.slice(-keep));
  const ci = current ? releases.indexOf(current) : -1;
  if (ci >= 0) {
    protect.add(releases[ci]!);
    if (ci > 0) protect.add(releases[ci - 1]!);
  }
  return sorted.filter((n) => !protect.has(n));
}

// $1 releases dir, $2 current link. Lists release names ("r" complete, "i" incomplete: no
// REVISION yet), then the current target's name.
const READ = `
cd "$1" 2>/dev/null || exit 0
for d in *; do [ -d "$d" ] && [ ! -L "$d" ] && { [ -s "$d/REVISION" ] && echo "r $d" || echo "i $d"; }; done
t=$(readlink "$2" 2>/dev/null) && echo "c \${t##*/}"
true
`;

// $1 releases dir, then names. Each name is checked to be a plain directory name first.
const REMOVE = `
set -e
dir=$1; shift
for n in "$@"; do
  case "$n" in */*|.|..|'') echo "refusing $n" >&2; exit 1;; esac
  rm -rf -- "$dir/$n"
done
`;

export const release_prune = defineModule<ReleasePruneParams>({
  name: 'release_prune',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['releases', 'current', 'keep'],
    properties: { releases: pathSchema, current: pathSchema, keep: { type: 'integer', minimum: 2 } },
  },
  async run(ctx, p) {
    const read = await ctx.exec(script(READ, p.releases, p.current));
    const lines = read.stdout.split('\n');
    const names = lines.filter((l) => l.startsWith('r ') || l.startsWith('i ')).map((l) => l.slice(2));
    const complete = new Set(lines.filter((l) => l.startsWith('r ')).map((l) => l.slice(2)));
    const current = lines.find((l) => l.startsWith('c '))?.slice(2);
    const remove = planPrune(names, current, p.keep, complete);
    if (remove.length && !ctx.check) {
      const res = await ctx.exec(script(REMOVE, p.releases, ...remove));
      if (res.code !== 0) return { changed: false, failed: true, msg: `pruning releases: ${res.stderr.trim()}` };
    }
    return { changed: remove.length > 0, msg: remove.length ? `removed ${remove.join(', ')}` : `${names.length} releases kept`, data: { removed: remove } };
  },
});
