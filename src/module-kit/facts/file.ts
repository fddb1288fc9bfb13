/**
 * File facts: the state of one or several paths (type, mode, owner, group, size, sha256, link
 * target), read in ONE remote command whatever the number of paths. Modules decide from this
 * state alone, so a run where nothing differs costs exactly this one round trip.
 *
 * The stat script is exported as a fragment so a module that needs a little more (supervisor
 * asks supervisord for its program's status) can append its own probe to the same command
 * instead of paying a second round trip.
 */
import path from 'node:path';
import { script, toShell, type Command } from '../../command.js';
import type { ExecResult } from '../../connection/types.js';

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
 *
 * Every process started on the host costs a fork and an exec (5-6 ms of CPU on a small VM, and
 * with 50 servers sharing a machine that is the run's time), and a batch of reads (the runner
 * reads ahead for the file tasks that follow; src/runner/read-ahead.ts) can hold dozens of paths.
 * So one `stat` describes every path that exists: a subshell appends those paths to its own "$@",
 * drops the rest and becomes `stat`. Its records are "<name>\0<type/mode/ids/size>\0<%N>\0"; %N
 * with literal quoting is "<name> -> <target>" for a link. Then "stat-end\0", then one
 * `sha256sum` the same way for every regular file whose checksum is asked, its lines ("<sha>
 * <name>", escaped when the name holds a backslash or a newline) ended by a NUL. Then, per
 * path, four fields: parent is a folder, sha256 (only for a diff: it decides whether to send the
 * content), recursive owner/group match (when asked), content (for a diff, when it differs).
 * Names and link targets cannot hold NUL, so parsing is exact. The parent folder comes computed
 * from the control side, tests are shell built-ins, and only a diff and the rare recursive check
 * start a process per path.
 */
const STAT_SCRIPT = `
n=$1; shift
(
  i=0 k=0
  for a in "$@"; do
    if [ $i -lt $((6 * n)) ] && [ $((i % 6)) -eq 0 ] && { [ -L "$a" ] || [ -e "$a" ]; }; then set -- "$@" "$a"; k=$((k + 1)); fi
    i=$((i + 1))
  done
  shift $i
  [ $k -eq 0 ] || QUOTING_STYLE=literal exec stat --printf '%n\\0%F/%a/%u/%U/%g/%G/%s\\0%N\\0' -- "$@"
) 2>/dev/null
printf 'stat-end\\0'
(
  t=$# i=0 k=0 ck=
  for a in "$@"; do
    [ $i -lt $((6 * n)) ] || break
    case $((i % 6)) in
      0) p=$a ;;
      2) ck=$a ;;
      3) if [ "$ck" = 1 ] && [ -z "$a" ] && [ -f "$p" ] && [ ! -L "$p" ]; then set -- "$@" "$p"; k=$((k + 1)); fi ;;
    esac
    i=$((i + 1))
  done
  shift $t
  [ $k -eq 0 ] || exec sha256sum -- "$@"
) 2>/dev/null
printf '\\0'
while [ "$n" -gt 0 ]; do
  p=$1 pdir=$2 ck=$3 want=$4 rown=$5 rgrp=$6; shift 6; n=$((n - 1))
  sha= rok= body=
  if [ -d "$pdir" ]; then pd=1; else pd=0; fi
  if [ "$ck" = 1 ] && [ -n "$want" ] && [ -f "$p" ] && [ ! -L "$p" ]; then
    sha=$(sha256sum < "$p" 2>/dev/null); sha=\${sha%% *}
    if [ -n "$want" ] && [ -n "$sha" ] && [ "$sha" != "$want" ]; then
      size=$(stat -c %s -- "$p" 2>/dev/null) || size=0
      if [ "$size" -le ${DIFF_MAX_BYTES} ]; then body=b:$(base64 -w0 < "$p"); else body=large; fi
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
  printf '%s\\0' "$pd" "$sha" "$rok" "$body"
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

/** What `stat` said of one path: its "type/mode/uid/owner/gid/group/size" and its %N. */
export interface StatLine {
  st: string;
  /** "<name>" or, for a link, "<name> -> <target>". */
  quoted: string;
}

/**
 * One path's state from its stat line (undefined: it does not exist) and its four per-path
 * fields: parent is a folder, sha256, recursive match, content (pure; exported for unit tests).
 */
export function parseStatRecord(path: string, line: StatLine | undefined, fields: readonly string[]): PathState {
  const [pd = '0', sha = '', rok = '', body = ''] = fields;
  const state: PathState = { path, type: 'missing', parentIsDir: pd === '1' };
  if (line) {
    // %F may contain spaces but never '/', and user/group names cannot contain '/'.
    const [kind = '', mode = '', uid = '', owner = '', gid = '', group = '', size = ''] = line.st.split('/');
    state.type = TYPES[kind] ?? 'other';
    state.mode = mode.padStart(4, '0');
    state.uid = Number(uid);
    state.owner = owner;
    state.gid = Number(gid);
    state.group = group;
    state.size = Number(size);
    const arrow = `${path} -> `;
    if (state.type === 'link') state.target = line.quoted.startsWith(arrow) ? line.quoted.slice(arrow.length) : '';
  }
  if (sha) state.sha256 = sha;
  if (rok) state.recurseMatches = rok === '1';
  if (body.startsWith('b:')) state.content = Buffer.from(body.slice(2), 'base64');
  else if (body === 'large') state.contentTooLarge = true;
  return state;
}

/** sha256sum's lines by file name: "<sha>  <name>", or "\<sha>  <name>" with \\ and \n escaped (pure). */
export function parseChecksums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const escaped = line.startsWith('\\');
    const m = /^([0-9a-f]{64}) [ *](.*)$/s.exec(escaped ? line.slice(1) : line);
    if (!m) continue;
    const name = escaped ? m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : m[2]!;
    sums.set(name, m[1]!);
  }
  return sums;
}

/**
 * Split the command's output into path states and whatever a probe printed after them.
 * Throws when the output is cut short: that is a transport or shell problem, not a state.
 */
export function parseStatOutput(stdout: string, reqs: readonly StatRequest[]): { states: PathState[]; rest: string } {
  const parts = stdout.split('\0');
  const bad = () => new Error(`unexpected output from the file state read: ${JSON.stringify(stdout.slice(0, 200))}`);
  // stat's records, in the order of the paths that existed; a path that vanished in between has
  // none, so each is matched to its request by name.
  const lines: Array<{ name: string } & StatLine> = [];
  let i = 0;
  while (parts[i] !== 'stat-end') {
    if (i + 3 > parts.length) throw bad();
    lines.push({ name: parts[i]!, st: parts[i + 1]!, quoted: parts[i + 2]! });
    i += 3;
  }
  i++;
  if (i >= parts.length) throw bad();
  const sums = parseChecksums(parts[i++]!);
  let next = 0;
  const states: PathState[] = [];
  for (const r of reqs) {
    const line = lines[next]?.name === r.path ? lines[next++] : undefined;
    const state = parseStatRecord(r.path, line, parts.slice(i, i + 4));
    if (r.checksum && !r.contentUnless && state.type === 'file') state.sha256 = sums.get(r.path);
    states.push(state);
    i += 4;
  }
  if (parts[i] !== 'end') throw bad();
  return { states, rest: parts.slice(i + 1).join('\0') };
}

/** A Command that reads `reqs`, then runs `probe` with `probeArgs` as its "$@". */
export function statCommand(reqs: readonly StatRequest[], probe = '', probeArgs: readonly string[] = []): Command {
  const frag = statScript(reqs);
  return script(frag.text + probe, ...frag.args, ...probeArgs);
}

const READS_MARK = '\0flight-reads-after\0';

/**
 * `cmd`, and when it succeeds, a read of `reqs` right after it, in one remote call (reading
 * ahead after a change: src/runner/read-ahead.ts). Both parts are quoted by toShell, the one
 * place that quotes; the read's output follows a marker on stdout.
 */
export function withReadsAfter(cmd: Command, reqs: readonly StatRequest[]): Command {
  return script(`${toShell(cmd)}\nrc=$?\n[ "$rc" -eq 0 ] || exit "$rc"\nprintf '\\0%s\\0' flight-reads-after\n${toShell(statCommand(reqs))}\nexit 0\n`);
}

/**
 * Split the output of a withReadsAfter command: the command's own stdout, and the states read
 * after it (undefined when the command failed or the read did not complete).
 */
export function splitReadsAfter(stdout: string, reqs: readonly StatRequest[]): { stdout: string; states?: PathState[] } {
  const at = stdout.lastIndexOf(READS_MARK);
  if (at < 0) return { stdout };
  try {
    return { stdout: stdout.slice(0, at), states: parseStatOutput(stdout.slice(at + READS_MARK.length), reqs).states };
  } catch {
    return { stdout: stdout.slice(0, at) };
  }
}

/** Read the state of several paths in one round trip (modules go through ctx.stat). */
export async function statPaths(ctx: { exec(cmd: Command): Promise<ExecResult> }, reqs: readonly StatRequest[]): Promise<PathState[]> {
  const res = await ctx.exec(statCommand(reqs));
  if (res.code !== 0) throw new Error(`reading file state failed (rc=${res.code}): ${res.stderr.trim()}`);
  return parseStatOutput(res.stdout, reqs).states;
}

/** Two requests with the same key ask the same question of the same path. */
export function statKey(r: StatRequest): string {
  return JSON.stringify([r.path, !!(r.checksum || r.contentUnless), r.contentUnless ?? '', r.recurseOwner ?? '', r.recurseGroup ?? '']);
}

/** Does an owner/group spec (a name or a numeric id) match what stat reported? */
export function idMatches(want: string, name: string | undefined, id: number | undefined): boolean {
  return /^\d+$/.test(want) ? Number(want) === id : want === name;
}

/** Normalise "644"/"0644" to four digits so it compares with PathState.mode. */
export function normalizeMode(mode: string): string {
  return mode.padStart(4, '0');
}
