/**
 * release_prune: keep the newest `keep` releases and remove older ones, but never the release
 * `current` points to, nor the one before it (the rollback target), nor anything outside the
 * releases folder. Release ids sort by time, so "newest" is plain name order.
 */
import { script } from '../src/command.js';
import { defineModule } from '../src/module.js';
import { pathSchema } from '../src/remote/write.js';

export interface ReleasePruneParams {
  releases: string;
  current: string;
  keep: number;
}

/** Decide (pure) which releases go. `names` in any order; `current` may be undefined. */
export function planPrune(names: string[], current: string | undefined, keep: number): string[] {
  const sorted = [...names].sort();
  const protect = new Set(sorted.slice(-keep));
  const ci = current ? sorted.indexOf(current) : -1;
  if (ci >= 0) {
    protect.add(sorted[ci]!);
    if (ci > 0) protect.add(sorted[ci - 1]!);
  }
  return sorted.filter((n) => !protect.has(n));
}

// $1 releases dir, $2 current link. Lists release names, then the current target's name.
const READ = `
cd "$1" 2>/dev/null || exit 0
for d in *; do [ -d "$d" ] && [ ! -L "$d" ] && echo "r $d"; done
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
    const names = lines.filter((l) => l.startsWith('r ')).map((l) => l.slice(2));
    const current = lines.find((l) => l.startsWith('c '))?.slice(2);
    const remove = planPrune(names, current, p.keep);
    if (remove.length && !ctx.check) {
      const res = await ctx.exec(script(REMOVE, p.releases, ...remove));
      if (res.code !== 0) return { changed: false, failed: true, msg: `pruning releases: ${res.stderr.trim()}` };
    }
    return { changed: remove.length > 0, msg: remove.length ? `removed ${remove.join(', ')}` : `${names.length} releases kept`, data: { removed: remove } };
  },
});
