/**
 * release_info: what is deployed on one server, read in one round trip: the releases (with the
 * commit each holds), the one `current` points to, the one before it (the rollback target),
 * and the release log. Changes nothing; rollback, health checks and `flight app:releases` use it.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { appLayout } from '../src/definitions/layout.js';
import { pathSchema } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['home'],
  properties: { home: pathSchema },
} as const;

/** The arguments, as the schema declares them. */
export type ReleaseInfoParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export interface ReleaseEntry {
  id: string;
  sha: string;
  /** A release is complete once its REVISION file is written (after a successful extract). */
  complete: boolean;
}

export interface LogEntry {
  id: string;
  sha: string;
  time: string;
  who: string;
  outcome: string;
}

// $1 home, $2 the release log (appLayout). Sections: "r ID SHA" per release, "c ID" for current, then "log" and the log's last
// lines. Two processes at most (readlink, tail): a release's REVISION is read by the shell itself.
export const READ_SCRIPT = `
home=$1 log=$2
cd "$home/releases" 2>/dev/null && for d in *; do
  [ -d "$d" ] && [ ! -L "$d" ] || continue
  r=; [ -f "$d/REVISION" ] && read -r r < "$d/REVISION"
  case $r in *[!0-9a-f]*) r= ;; esac
  echo "r $d $r"
done
t=$(readlink "$home/current" 2>/dev/null) && echo "c \${t##*/}"
echo log
[ -f "$log" ] && tail -n 200 "$log"
true
`;

export interface ReleaseState {
  releases: ReleaseEntry[];
  current: string | null;
  previous: string | null;
  log: LogEntry[];
}

/** Parse (pure). `previous` is the newest complete release older than current. */
export function parseReleaseInfo(stdout: string): ReleaseState {
  const releases: ReleaseEntry[] = [];
  const log: LogEntry[] = [];
  let current: string | null = null;
  let inLog = false;
  for (const line of stdout.split('\n')) {
    if (inLog) {
      if (!line) continue;
      const [id = '', sha = '', time = '', who = '', outcome = ''] = line.split('\t');
      log.push({ id, sha, time, who, outcome });
    } else if (line === 'log') {
      inLog = true;
    } else if (line.startsWith('r ')) {
      const [id = '', sha = ''] = line.slice(2).split(' ');
      releases.push({ id, sha, complete: sha.length > 0 });
    } else if (line.startsWith('c ')) {
      current = line.slice(2).trim() || null;
    }
  }
  releases.sort((a, b) => a.id.localeCompare(b.id));
  return { releases, current, previous: previousOf(releases, current), log };
}

/**
 * The rollback target. Releases named by time: the newest complete one older than current.
 * The alternate strategy's two directories (A, B): the other one, when it is complete.
 */
export function previousOf(releases: ReleaseEntry[], current: string | null): string | null {
  if (current === null) return null;
  if (current === 'A' || current === 'B') {
    const other = releases.find((r) => r.id === (current === 'A' ? 'B' : 'A'));
    return other?.complete ? other.id : null;
  }
  const older = releases.filter((r) => r.complete && r.id < current);
  return older.length ? older[older.length - 1]!.id : null;
}

export const release_info = defineModule<ReleaseInfoParams>({
  name: 'release_info',
  schema,
  async run(ctx, p) {
    const res = await ctx.exec(script(READ_SCRIPT, p.home, appLayout(p.home).releases_log));
    if (res.code !== 0) return { changed: false, failed: true, msg: `reading releases in ${p.home}: ${res.stderr.trim()}` };
    const info = parseReleaseInfo(res.stdout);
    return {
      changed: false,
      msg: `current ${info.current ?? 'none'}, ${info.releases.length} releases`,
      data: { ...info, ids: info.releases.filter((r) => r.complete).map((r) => r.id) },
    };
  },
});
