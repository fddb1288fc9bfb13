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
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import { pathSchema } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['releases', 'current', 'keep'],
  properties: {
    releases: pathSchema,
    current: pathSchema,
    keep: { type: 'integer', minimum: 2 },
    logs: {
      ...pathSchema,
      description: "The folder of the releases' logs (`release-<id>.log`): a release's log goes with it, and of the logs whose release is gone (failed releases, kept for diagnosis) the newest `keep` stay.",
    },
  },
} as const;

/** The arguments, as the schema declares them. */
export type ReleasePruneParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

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

/** Decide (pure) which logs go: those of removed releases, and orphans beyond the newest `keep`. */
export function planLogPrune(logIds: string[], releases: string[], removed: string[], keep: number): string[] {
  const gone = new Set(removed);
  const live = new Set(releases.filter((r) => !gone.has(r)));
  const orphans = logIds.filter((id) => !live.has(id) && !gone.has(id)).sort();
  const drop = new Set([...logIds.filter((id) => gone.has(id)), ...orphans.slice(0, Math.max(0, orphans.length - keep))]);
  return logIds.filter((id) => drop.has(id)).sort();
}

/** What READ found: the releases (complete or not), current's target, the ids of the logs. */
export interface ReleaseFacts {
  names: string[];
  complete: Set<string>;
  current?: string;
  logIds: string[];
}

export interface ReleasePrunePlan {
  error?: string;
  remove: string[];
  logs: string[];
}

/** READ's answer (pure). */
export function parseReleaseFacts(stdout: string): ReleaseFacts {
  const lines = stdout.split('\n');
  const tagged = (tag: string) => lines.filter((l) => l.startsWith(tag)).map((l) => l.slice(2));
  return {
    names: lines.filter((l) => l.startsWith('r ') || l.startsWith('i ')).map((l) => l.slice(2)),
    complete: new Set(tagged('r ')),
    current: tagged('c ')[0],
    logIds: tagged('l '),
  };
}

/** Decide (pure) the releases and logs that go. Without a logs folder READ lists no logs, so none go. */
export function planReleasePrune(f: ReleaseFacts, keep: number): ReleasePrunePlan {
  const remove = planPrune(f.names, f.current, keep, f.complete);
  return { remove, logs: planLogPrune(f.logIds, f.names, remove, keep) };
}

// $1 releases dir, $2 current link. Lists release names ("r" complete, "i" incomplete: no
// REVISION yet), then the current target's name.
// $3, when set, the logs folder: "l ID" per release-ID.log.
const READ = `
if [ -n "$3" ] && cd "$3" 2>/dev/null; then
  for f in release-*.log; do [ -f "$f" ] && [ ! -L "$f" ] && { f=\${f#release-}; echo "l \${f%.log}"; }; done
fi
cd "$1" 2>/dev/null || exit 0
for d in *; do [ -d "$d" ] && [ ! -L "$d" ] && { [ -s "$d/REVISION" ] && echo "r $d" || echo "i $d"; }; done
t=$(readlink "$2" 2>/dev/null) && echo "c \${t##*/}"
true
`;

// $1 releases dir, $2 logs dir, then "r NAME" (a release) or "l ID" (a log) words. Each name
// is checked to be a plain file name first.
const REMOVE = `
set -e
dir=$1 logs=$2; shift 2
for w in "$@"; do
  n=\${w#? }
  case "$n" in */*|.|..|'') echo "refusing $n" >&2; exit 1;; esac
  case "$w" in
    "r "*) rm -rf -- "$dir/$n" ;;
    "l "*) rm -f -- "$logs/release-$n.log" ;;
  esac
done
`;

export const release_prune = defineModule<ReleasePruneParams>({
  name: 'release_prune',
  schema,
  run: runOperation<ReleasePruneParams, ReleaseFacts, ReleasePrunePlan>({
    read: async (ctx, p) => parseReleaseFacts((await ctx.exec(script(READ, p.releases, p.current, p.logs ?? ''))).stdout),
    decide: (p, f) => planReleasePrune(f, p.keep),
    changed: (d) => d.remove.length + d.logs.length > 0,
    async apply(ctx, p, d) {
      const res = await ctx.exec(script(REMOVE, p.releases, p.logs ?? '', ...d.remove.map((n) => `r ${n}`), ...d.logs.map((n) => `l ${n}`)));
      // Prefixed here, not in `failure`: a failure with nothing on stderr must not read as success.
      return res.code === 0 ? undefined : `pruning releases: ${res.stderr.trim()}`;
    },
    result(_ctx, _p, d, f, changed) {
      const parts = [d.remove.length ? `removed ${d.remove.join(', ')}` : `${f.names.length} releases kept`];
      if (d.logs.length) parts.push(`${d.logs.length} old release log${d.logs.length === 1 ? '' : 's'} removed`);
      return { changed, msg: parts.join('; '), data: { removed: d.remove, logs_removed: d.logs } };
    },
  }),
});
