/**
 * File facts: the state of one or several paths (type, mode, owner, group, size, sha256, link
 * target), read in ONE remote command whatever the number of paths. Modules decide from this
 * state alone, so a run where nothing differs costs exactly this one round trip.
 *
 * The stat script is exported as a fragment so a module that needs a little more (supervisor
 * asks supervisorctl for its program's status) can append its own probe to the same command
 * instead of paying a second round trip.
 */
import path from 'node:path';
import { script, type Command } from '../command.js';
import type { ModuleContext } from '../module.js';

export type PathType = 'missing' | 'file' | 'directory' | 'link' | 'other';

export interface StatRequest {
  /** Absolute path; never followed if it is a symlink (the link itself is described). */
  path: string;
  /** Compute sha256 of a regular file's content. */
  checksum?: boolean;
  /**
   * Send the current content back (for a diff) only when it differs from this sha256, so a
   * diff costs no extra round trip and an unchanged file is never transferred.
   */
  contentUnless?: string;
  /** For a directory: report whether anything below it has another owner/group. */
  recurseOwner?: string;
  recurseGroup?: string;
}

export interface PathState {
  path: string;
  type: PathType;
  /** Four octal digits, e.g. "0644". */
  mode?: string;
  uid?: number;
  owner?: string;
  gid?: number;
  group?: string;
  size?: number;
  /** Where a symlink points, as stored in the link (not resolved). */
  target?: string;
  sha256?: string;
  /** Whether the parent directory exists (so a write can fail with a named reason up front). */
  parentIsDir: boolean;
  /** Set when recurseOwner/recurseGroup was asked on a directory: true when everything matches. */
  recurseMatches?: boolean;
  /** Current content, only when asked with contentUnless, it differed, and it was small enough. */
  content?: Buffer;
  /** contentUnless was asked and the file differed, but it was too large to send. */
  contentTooLarge?: boolean;
}

/** Files larger than this are not sent back for a diff. */
export const DIFF_MAX_BYTES = 256 * 1024;

/**
 * Consumes 1 + 6n leading positional arguments ($1 = n, then path, parent folder, checksum flag,
 * sha, owner, group per path) and leaves the rest in "$@" for a caller's probe appended after it.
 * Each path yields six NUL-terminated fields; names and link targets cannot hold NUL, so parsing
 * is exact.
 *
 * Every process started on the host costs a fork and an exec (5-6 ms of CPU on a small VM, and
 * with 50 servers sharing a machine that is the run's time): this read runs once per file task
 * per host, so it starts as few as it can. The parent folder comes computed from the control
 * side (no `dirname`), tests are shell built-ins, and a path costs one `stat` (which also tells
 * a link's target), plus `sha256sum` when a checksum is asked.
 */
const STAT_SCRIPT = `
n=$1; shift
while [ "$n" -gt 0 ]; do
  p=$1 pdir=$2 ck=$3 want=$4 rown=$5 rgrp=$6; shift 6; n=$((n - 1))
  st=missing tgt= sha= rok= body=
  if [ -d "$pdir" ]; then pd=1; else pd=0; fi
  if [ -L "$p" ] || [ -e "$p" ]; then
    # %N (literal quoting) is "<path> -> <target>" for a link: the target without a readlink.
    st=$(QUOTING_STYLE=literal stat -c '%F/%a/%u/%U/%g/%G/%s/%N' -- "$p" 2>/dev/null) || st=missing
    if [ "$st" != missing ]; then
      tgt=\${st#*/*/*/*/*/*/*/}; st=\${st%"/$tgt"}
      case $tgt in "$p -> "*) tgt=\${tgt#"$p -> "} ;; *) tgt= ;; esac
    fi
    if [ "$ck" = 1 ] && [ -f "$p" ] && [ ! -L "$p" ]; then
      sha=$(sha256sum < "$p" 2>/dev/null); sha=\${sha%% *}
      if [ -n "$want" ] && [ -n "$sha" ] && [ "$sha" != "$want" ]; then
        if [ "\${st##*/}" -le ${DIFF_MAX_BYTES} ]; then body=b:$(base64 -w0 < "$p"); else body=large; fi
      fi
    fi
    if [ -n "$rown$rgrp" ] && [ -d "$p" ] && [ ! -L "$p" ]; then
      rok=1
      if [ -n "$rown" ]; then
        m=$(find "$p" ! -user "$rown" -printf x -quit 2>/dev/null) || m=x
        [ -z "$m" ] || rok=0
      fi
      if [ -n "$rgrp" ] && [ "$rok" = 1 ]; then
        m=$(find "$p" ! -group "$rgrp" -printf x -quit 2>/dev/null) || m=x
        [ -z "$m" ] || rok=0
      fi
    fi
  fi
  printf '%s\\0' "$st" "$tgt" "$sha" "$pd" "$rok" "$body"
done
printf 'end\\0'
`;

export interface StatFragment {
  text: string;
  args: string[];
}

/** The stat script and its arguments, for use alone or with a probe appended. */
export function statScript(reqs: readonly StatRequest[]): StatFragment {
  const args = [String(reqs.length)];
  for (const r of reqs) {
    if (!r.path.startsWith('/')) throw new Error(`stat: path must be absolute: ${r.path}`);
    args.push(r.path, path.posix.dirname(r.path), r.checksum || r.contentUnless ? '1' : '0', r.contentUnless ?? '', r.recurseOwner ?? '', r.recurseGroup ?? '');
  }
  return { text: STAT_SCRIPT, args };
}

const TYPES: Record<string, PathType> = {
  'regular file': 'file',
  'regular empty file': 'file',
  directory: 'directory',
  'symbolic link': 'link',
};

/** Parse one path's six fields (pure; exported for unit tests). */
export function parseStatRecord(path: string, fields: readonly string[]): PathState {
  const [st = 'missing', tgt = '', sha = '', pd = '0', rok = '', body = ''] = fields;
  const state: PathState = { path, type: 'missing', parentIsDir: pd === '1' };
  if (st !== 'missing') {
    // %F may contain spaces but never '/', and user/group names cannot contain '/'.
    const [kind = '', mode = '', uid = '', owner = '', gid = '', group = '', size = ''] = st.split('/');
    state.type = TYPES[kind] ?? 'other';
    state.mode = mode.padStart(4, '0');
    state.uid = Number(uid);
    state.owner = owner;
    state.gid = Number(gid);
    state.group = group;
    state.size = Number(size);
  }
  if (state.type === 'link') state.target = tgt;
  if (sha) state.sha256 = sha;
  if (rok) state.recurseMatches = rok === '1';
  if (body.startsWith('b:')) state.content = Buffer.from(body.slice(2), 'base64');
  else if (body === 'large') state.contentTooLarge = true;
  return state;
}

/**
 * Split the command's output into path states and whatever a probe printed after them.
 * Throws when the output is cut short: that is a transport or shell problem, not a state.
 */
export function parseStatOutput(stdout: string, reqs: readonly StatRequest[]): { states: PathState[]; rest: string } {
  const parts = stdout.split('\0');
  const states: PathState[] = [];
  let i = 0;
  for (const r of reqs) {
    states.push(parseStatRecord(r.path, parts.slice(i, i + 6)));
    i += 6;
  }
  if (parts[i] !== 'end') throw new Error(`unexpected output from the file state read: ${JSON.stringify(stdout.slice(0, 200))}`);
  return { states, rest: parts.slice(i + 1).join('\0') };
}

/** A Command that reads `reqs`, then runs `probe` with `probeArgs` as its "$@". */
export function statCommand(reqs: readonly StatRequest[], probe = '', probeArgs: readonly string[] = []): Command {
  const frag = statScript(reqs);
  return script(frag.text + probe, ...frag.args, ...probeArgs);
}

/** Read the state of several paths in one round trip. */
export async function statPaths(ctx: ModuleContext, reqs: readonly StatRequest[]): Promise<PathState[]> {
  const res = await ctx.exec(statCommand(reqs));
  if (res.code !== 0) throw new Error(`reading file state failed (rc=${res.code}): ${res.stderr.trim()}`);
  return parseStatOutput(res.stdout, reqs).states;
}

/** Does an owner/group spec (a name or a numeric id) match what stat reported? */
export function idMatches(want: string, name: string | undefined, id: number | undefined): boolean {
  return /^\d+$/.test(want) ? Number(want) === id : want === name;
}

/** Normalise "644"/"0644" to four digits so it compares with PathState.mode. */
export function normalizeMode(mode: string): string {
  return mode.padStart(4, '0');
}
