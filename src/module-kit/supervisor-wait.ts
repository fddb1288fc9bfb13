/**
 * Waiting for supervisor programs to reach the state asked of them. supervisord starts and
 * restarts processes asynchronously (`update` re-adds a changed group and autostarts it; a
 * worker told to exit by `artisan queue:restart` is started again by autorestart), and a process
 * is RUNNING only once it has stayed up for its `startsecs`. A change is reported done only when
 * every process of the programs is there, or fails with what the processes printed last.
 */
import { script } from '../command.js';
import type { ModuleContext } from './contract.js';

/** A supervisor program name as Flight writes them (the file is <name>.conf). */
export const PROGRAM_NAME = /^[a-zA-Z0-9_-]+$/;

export interface ProgramWait {
  programs: readonly string[];
  want: 'running' | 'stopped';
  /** Seconds to wait at most. */
  timeout: number;
  /**
   * With `want: running`: every process must also run in this folder (a link such as
   * `current` is resolved first), so processes still on an older release are waited for.
   */
  dir?: string;
  /** Process ids that must be gone: each process counts only once it is a new one. */
  replaced?: readonly string[];
}

/**
 * $1 want, $2 timeout (s), $3 folder ('' for any), $4 process ids to see replaced (' 12 34 '),
 * then the program names. Polls
 * `supervisorctl status` until every process is as wanted. Exit 0 done (stdout: how many
 * processes), 7 a process went FATAL or a program is unknown, 8 the time ran out; on 7 and 8
 * stderr has the processes' states and the last lines each of the laggards printed.
 */
const WAIT = `
want=$1 timeout=$2 dir=$3 old=$4; shift 4
if [ -n "$dir" ]; then dir=$(readlink -f -- "$dir") || { echo "no such folder: $3" >&2; exit 7; }; fi
end=$(( $(date +%s) + timeout ))
report() {
  printf '%s\\n' "$st" >&2
  for p in $1; do
    supervisorctl tail -1600 "$p" 2>/dev/null | tail -n 5 | sed "s|^|  $p: |" >&2
  done
}
while :; do
  st=$(for p; do supervisorctl status "$p:*"; done 2>&1)
  n=0 pending= fatal=
  while read -r proc state rest; do
    [ -n "$proc" ] || continue
    n=$((n + 1))
    case $want/$state in
      running/RUNNING)
        pid=\${rest#pid }; pid=\${pid%%,*}
        case $old in *" $pid "*) pending="$pending $proc"; continue;; esac
        [ -z "$dir" ] || [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$dir" ] || pending="$pending $proc" ;;
      stopped/STOPPED|stopped/EXITED|stopped/FATAL) ;;
      running/FATAL|*/ERROR) fatal="$fatal $proc" ;;
      *) pending="$pending $proc" ;;
    esac
  done <<EOF
$st
EOF
  if [ -n "$fatal" ]; then report "$fatal"; exit 7; fi
  if [ -z "$pending" ]; then echo "$n"; exit 0; fi
  if [ "$(date +%s)" -ge "$end" ]; then report "$pending"; exit 8; fi
  sleep 0.2
done
`;

export interface WaitOutcome {
  /** Processes that reached the wanted state. */
  processes?: number;
  /** Why they did not, with their states and last output on one line. */
  error?: string;
}

/** Wait on the host until the programs are as wanted; the result says how it ended. */
export async function awaitPrograms(ctx: ModuleContext, w: ProgramWait): Promise<WaitOutcome> {
  const old = ` ${(w.replaced ?? []).join(' ')} `;
  const res = await ctx.exec(script(WAIT, w.want, String(w.timeout), w.dir ?? '', old, ...w.programs));
  if (res.code === 0) return { processes: Number(res.stdout.trim()) };
  const detail = res.stderr.trim().split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
  const verb = w.want === 'running' ? `${w.replaced?.length ? 'restarted and ' : ''}running${w.dir ? ` in ${w.dir}` : ''}` : 'stopped';
  if (res.code === 8) return { error: `not all ${verb} after ${w.timeout}s: ${detail}` };
  if (res.code === 7) return { error: `not ${verb}: ${detail}` };
  return { error: `waiting for ${w.programs.join(', ')} failed (rc=${res.code}): ${detail}` };
}
