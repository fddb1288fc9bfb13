/**
 * Facts about Debian packages on a host: which of some names dpkg has installed, how old the
 * package lists are (on the host's own clock), and which names apt can install. Read by the
 * apt module; shell text and parsers only, so the reads join other reads in one command.
 */

/** Touched by apt on every successful list refresh. */
export const APT_STAMP = '/var/lib/apt/periodic/update-success-stamp';

/** What the read learns about packages and lists (the repository files are PathStates). */
export interface AptState {
  /** Names (as requested) that dpkg reports installed. */
  installed: Set<string>;
  now: number;
  /** Epoch seconds of the last successful list refresh (0: never). */
  cacheTime: number;
  /** Whether any package lists exist at all. */
  haveLists: boolean;
}

/**
 * Appended to the file-state read (sources file and key) so the whole read is one command:
 * one dpkg-query for every name (an unknown name is just absent from its output) and the
 * lists' age measured on the host's own clock. Three processes in all (date, stat, dpkg-query):
 * the rest is shell built-ins.
 */
export const PROBE = `
echo "now=$(date +%s)"
c=0; for t in $(stat -c %Y ${APT_STAMP} /var/lib/apt/lists 2>/dev/null); do [ "$t" -gt "$c" ] && c=$t; done
echo "cache=$c"
l=0; for f in /var/lib/apt/lists/*_Packages*; do [ -e "$f" ] && l=1; break; done
echo "lists=$l"
dpkg-query -W -f='pkg=\${Package}\t\${Architecture}\t\${Status}\\n' "$@" 2>/dev/null
true`;

export function parseProbe(stdout: string, names: string[]): AptState {
  const st: AptState = { installed: new Set(), now: 0, cacheTime: 0, haveLists: false };
  const rows: Array<{ pkg: string; arch: string; installed: boolean }> = [];
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === 'now') st.now = Number(v);
    else if (k === 'cache') st.cacheTime = Number(v);
    else if (k === 'lists') st.haveLists = v === '1';
    else if (k === 'pkg') {
      const [pkg = '', arch = '', status = ''] = v.split('\t');
      // "install ok installed", "hold ok installed": the last word is the package's state.
      rows.push({ pkg, arch, installed: status.trim().split(/\s+/).pop() === 'installed' });
    }
  }
  for (const n of names) {
    const [pkg, arch] = n.split(':');
    if (rows.some((r) => r.installed && r.pkg === pkg && (arch === undefined || r.arch === arch || r.arch === 'all'))) st.installed.add(n);
  }
  return st;
}

/** Names from `apt-cache policy` output that have an installation candidate. */
export function parsePolicy(stdout: string): Set<string> {
  const found = new Set<string>();
  let current: string | undefined;
  for (const line of stdout.split('\n')) {
    if (/^\S.*:$/.test(line)) current = line.slice(0, -1);
    else if (current !== undefined) {
      const m = line.match(/^\s+Candidate:\s*(\S+)/);
      if (m && m[1] !== '(none)') found.add(current);
    }
  }
  return found;
}
