/** A path's mode, owner and group: what must change, said and done as argv commands. */
import { idMatches, normalizeMode, type PathState } from './facts/file.js';

export interface Attrs {
  mode?: string;
  owner?: string;
  group?: string;
}

export interface AttrChange {
  attr: 'mode' | 'owner' | 'group';
  from?: string;
  to: string;
}

/** What must change for `state` to have `want` (pure). A missing path lists every wanted attribute. */
export function planAttrs(state: PathState, want: Attrs): AttrChange[] {
  const out: AttrChange[] = [];
  const exists = state.type !== 'missing';
  if (want.mode !== undefined && (!exists || state.mode !== normalizeMode(want.mode))) {
    out.push({ attr: 'mode', from: exists ? state.mode : undefined, to: normalizeMode(want.mode) });
  }
  if (want.owner !== undefined && (!exists || !idMatches(want.owner, state.owner, state.uid))) {
    out.push({ attr: 'owner', from: exists ? state.owner : undefined, to: want.owner });
  }
  if (want.group !== undefined && (!exists || !idMatches(want.group, state.group, state.gid))) {
    out.push({ attr: 'group', from: exists ? state.group : undefined, to: want.group });
  }
  return out;
}

export function describeAttrs(changes: readonly AttrChange[]): string[] {
  return changes.map((c) => (c.from !== undefined ? `${c.attr} ${c.from} -> ${c.to}` : `${c.attr} ${c.to}`));
}

/**
 * argv commands applying `changes` to `p`. `recurse` applies owner/group to everything below a
 * directory; -h makes chown act on symlinks themselves, never on what they point to (a link in
 * an app's tree must not hand /etc/passwd to the app user).
 */
export function attrCommands(p: string, changes: readonly AttrChange[], opts: { recurse?: boolean; link?: boolean } = {}): string[][] {
  const cmds: string[][] = [];
  const flags = [...(opts.recurse ? ['-R'] : []), ...(opts.recurse || opts.link ? ['-h'] : [])];
  for (const c of changes) {
    if (c.attr === 'mode') cmds.push(['chmod', '--', c.to, p]);
    else if (c.attr === 'owner') cmds.push(['chown', ...flags, '--', c.to, p]);
    else cmds.push(['chgrp', ...flags, '--', c.to, p]);
  }
  return cmds;
}
