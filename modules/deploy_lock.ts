/**
 * deploy_lock: one release or rollback of an app at a time, whichever machine runs it. The lock
 * is a directory on the server (mkdir is atomic), holding who took it, when, for what, and the
 * run's id. Taking a lock someone else holds fails at once with their details; the holder's
 * own run may take it again (idempotent); `force` breaks a stale lock and says whose it was.
 * Releasing removes the lock only when this run holds it.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { pathSchema } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'state', 'run'],
  properties: {
    path: pathSchema,
    state: { enum: ['present', 'absent'] },
    run: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', description: "This run's id: the lock's owner." },
    who: { type: 'string' },
    detail: { type: 'string', description: 'What the run is doing, e.g. "release 1a2b3c4d".' },
    force: { type: 'boolean' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type DeployLockParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

// $1 path $2 run $3 who $4 detail $5 force $6 check. First line of output is the outcome,
// the rest is the lock's content as it was found. In check mode nothing is created, not even
// the lock's folder (it may not exist yet on a new server).
// The lock appears with its info already inside (a directory made aside, then renamed into
// place; rename fails when the lock exists), so a run that finds it can always say whose it is:
// with mkdir and then a write, a run arriving in between found a lock with no holder.
const ACQUIRE = `
path=$1 run=$2 who=$3 detail=$4 force=$5 check=$6
take() {
  tmp="$path.new-$run"
  rm -rf "$tmp" && mkdir "$tmp" &&
    printf 'run=%s\\nwho=%s\\nsince=%s\\ndetail=%s\\n' "$run" "$who" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$detail" > "$tmp/info" &&
    mv -T "$tmp" "$path" 2>/dev/null && return 0
  rm -rf "$tmp"
  return 1
}
if [ "$check" = 1 ]; then
  [ -e "$path" ] || { echo free; exit 0; }
else
  mkdir -p "$(dirname "$path")"
  if take; then echo acquired; exit 0; fi
fi
held=$(cat "$path/info" 2>/dev/null)
if [ "$(printf '%s\\n' "$held" | sed -n 's/^run=//p')" = "$run" ]; then echo ours; exit 0; fi
if [ "$force" = 1 ]; then
  if [ "$check" = 1 ]; then echo would-break; printf '%s\\n' "$held"; exit 0; fi
  rm -rf "$path" && take && echo broke && printf '%s\\n' "$held"; exit 0
fi
echo locked; printf '%s\\n' "$held"
`;

// $1 path $2 run $3 force $4 check
const RELEASE = `
path=$1 run=$2 force=$3 check=$4
[ -d "$path" ] || { echo free; exit 0; }
held=$(cat "$path/info" 2>/dev/null)
if [ "$(printf '%s\\n' "$held" | sed -n 's/^run=//p')" = "$run" ] || [ "$force" = 1 ]; then
  [ "$check" = 1 ] || rm -rf "$path"
  echo released; printf '%s\\n' "$held"; exit 0
fi
echo other; printf '%s\\n' "$held"
`;

/** "who=ann@box\nsince=...\ndetail=release abc" -> "ann@box since ... (release abc, run 1f2e)" */
export function describeHolder(info: string): string {
  const field = (k: string) => info.match(new RegExp(`^${k}=(.*)$`, 'm'))?.[1] ?? '';
  const who = field('who') || 'someone';
  const since = field('since');
  const detail = field('detail');
  const run = field('run');
  return `${who}${since ? ` since ${since}` : ''}${detail || run ? ` (${[detail, run && `run ${run}`].filter(Boolean).join(', ')})` : ''}`;
}

export const deploy_lock = defineModule<DeployLockParams>({
  name: 'deploy_lock',
  schema,
  async run(ctx, p) {
    const flags = [p.force ? '1' : '0', ctx.check ? '1' : '0'];
    const res = p.state === 'present'
      ? await ctx.exec(script(ACQUIRE, p.path, p.run, p.who ?? '', p.detail ?? '', ...flags))
      : await ctx.exec(script(RELEASE, p.path, p.run, ...flags));
    if (res.code !== 0) return { changed: false, failed: true, msg: `deploy lock ${p.path}: ${res.stderr.trim()}` };
    const [outcome = '', ...rest] = res.stdout.split('\n');
    const holder = describeHolder(rest.join('\n'));
    switch (outcome) {
      case 'acquired': return { changed: true, msg: 'lock taken' };
      case 'free': return { changed: p.state === 'present', msg: p.state === 'present' ? 'lock is free (would take it)' : 'no lock held' };
      case 'ours': return { changed: false, msg: 'lock already held by this run' };
      case 'locked':
        return { changed: false, failed: true, msg: `another deploy holds the lock: ${holder}. If that run is dead, break the lock with --force-unlock`, data: { holder } };
      case 'broke': case 'would-break':
        return { changed: true, msg: `broke the lock held by ${holder}`, data: { holder } };
      case 'released': return { changed: true, msg: p.force ? `removed the lock held by ${holder}` : 'lock released' };
      case 'other': return { changed: false, msg: `lock held by another run, left alone: ${holder}`, data: { holder } };
      default: return { changed: false, failed: true, msg: `deploy lock ${p.path}: unexpected answer '${outcome}'` };
    }
  },
});
