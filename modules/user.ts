/**
 * user: make sure a (usually system) user exists with the given home, shell and supplementary
 * groups. Groups are only ever added (`usermod -a -G`), never taken away: another task or a
 * person may have added the user to a group for a reason this task does not know about.
 *
 * With `mark`, the user is the task's own: created with the mark as its comment (GECOS), and an
 * existing user without it (a daemon's account, a person's) is refused, never taken over. A
 * user an older Flight made (no comment, the wanted home, holding `.flight/`) gets the mark.
 *
 * With `state: absent` the user goes (with its home, `remove_home`): its processes are asked to
 * stop, then killed after a few seconds (userdel refuses while one lives, such as a PHP-FPM child
 * finishing a request), then its group goes too unless another user's primary group is it. The
 * mark guards this as it guards creation: a user without it is never removed.
 *
 * One read (getent passwd, id -Gn, the home directory's mode, which wanted groups exist);
 * at most one more round trip running useradd/usermod/chmod (or the removal) in sequence.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { normalizeMode } from '../src/module-kit/facts/file.js';
import { kind, KINDS } from '../src/kinds.js';
import { defineModule } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import { runSequence } from '../src/module-kit/batch.js';
import { modeSchema } from '../src/module-kit/schemas.js';
import { outputTail } from './command.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: kind('user-name'),
    system: { type: 'boolean', description: 'Created as a system user (uid below 1000, no aging). Only applies when creating.' },
    home: { type: 'string', pattern: '^/' },
    shell: { type: 'string', pattern: '^/' },
    groups: { type: 'array', items: kind('user-name'), description: 'Supplementary groups; added to what the user has, never removed.' },
    create_home: { type: 'boolean', description: 'Default true: the home directory is created when the user is (or when it is missing).' },
    home_mode: modeSchema,
    mark: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$',
      description: "The comment (GECOS) that marks the user as this task's: set on creation, required on an existing user.",
    },
    state: { enum: ['present', 'absent'], description: 'Default present.' },
    remove_home: { type: 'boolean', description: 'With state absent: remove the home directory too.' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type UserParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** Debian's default NAME_REGEX, without the uppercase and `$` that --badname would allow: the `user-name` kind. */
const isUserName = KINDS.get('user-name')!.test;

export interface UserState {
  exists: boolean;
  uid?: number;
  home?: string;
  shell?: string;
  groups: string[];
  primaryGroup?: string;
  /** Mode of the home directory that matters (the wanted one, else the current), "0750". */
  homeMode?: string;
  /** Wanted groups that do not exist on the host. */
  missingGroups: string[];
  /** The comment (GECOS) field. */
  comment?: string;
  /** The home holds `.flight/` (Flight's own folder). */
  flightDir?: boolean;
}

/**
 * Prints key=value lines; the passwd line is printed whole (its fields cannot hold newlines).
 * $1: name, $2: the home to stat (wanted, else current), then the wanted groups.
 */
export const READ_SCRIPT = `n=$1 want_home=$2
shift 2
if pw=$(getent passwd "$n"); then
  echo "passwd=$pw"
  echo "groups=$(id -Gn "$n")"
  h=\${pw#*:*:*:*:*:}; h=\${want_home:-\${h%%:*}}
  if [ -d "$h" ]; then echo "homemode=$(stat -c %a "$h")"; fi
  if [ -d "$h/.flight" ]; then echo "flightdir=1"; fi
elif [ -n "$want_home" ] && [ -d "$want_home" ]; then
  echo "homemode=$(stat -c %a "$want_home")"
fi
if [ $# -gt 0 ]; then
  known="
$(getent group "$@")"
  for g in "$@"; do case "$known" in *"
$g:"*) ;; *) echo "nogroup=$g" ;; esac; done
fi
true`;

export function parseUserState(stdout: string): UserState {
  const st: UserState = { exists: false, groups: [], missingGroups: [] };
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === 'passwd') {
      const f = v.split(':');
      st.exists = true;
      st.uid = Number(f[2]);
      st.comment = f[4];
      st.home = f[5];
      st.shell = f[6];
    } else if (k === 'groups') {
      // `id -Gn USER` names the primary group first.
      st.groups = v.trim().split(/\s+/).filter(Boolean);
      st.primaryGroup = st.groups[0];
    }
    else if (k === 'homemode') st.homeMode = normalizeMode(v.trim());
    else if (k === 'nogroup') st.missingGroups.push(v);
    else if (k === 'flightdir') st.flightDir = true;
  }
  return st;
}

export interface UserPlan {
  error?: string;
  /** argv commands, run in order. */
  commands: string[][];
  /** Human-readable changes. */
  changes: string[];
}

/**
 * $1 name, $2 "1" to remove the home. TERM, up to 5 s for the processes to end, then KILL; the
 * group named after the user goes unless it is someone's primary group (userdel keeps it when
 * another user, such as www-data, is a member).
 */
export const REMOVE_SCRIPT = `n=$1 rmhome=$2
pkill -TERM -u "$n" 2>/dev/null
i=0
while pgrep -u "$n" >/dev/null 2>&1 && [ $i -lt 25 ]; do sleep 0.2; i=$((i+1)); done
pkill -KILL -u "$n" 2>/dev/null && sleep 0.2
userdel \${rmhome:+--remove} -- "$n" 2>&1 | grep -v 'mail spool' >&2
getent passwd "$n" >/dev/null && exit 1
if gid=$(getent group "$n" | cut -d: -f3) && [ -n "$gid" ]; then
  getent passwd | cut -d: -f4 | grep -qx "$gid" || groupdel -- "$n"
fi
true`;

/** Whether an existing user is the one `mark` names: marked, or made by an older Flight (legacy). */
function isMarked(p: UserParams, st: UserState): boolean {
  return !p.mark || st.comment === p.mark || isLegacy(p, st);
}

const isLegacy = (p: UserParams, st: UserState): boolean =>
  st.comment === '' && st.home === (p.home ?? `/home/${p.name}`) && st.flightDir === true;

function refusal(p: UserParams, st: UserState, doing: string): UserPlan {
  const what = [`uid ${st.uid}`, `home ${st.home}`, ...(st.comment ? [`comment '${st.comment}'`] : [])].join(', ');
  return { error: `user ${p.name} already exists (${what}) and is not one this task made: refusing to ${doing}`, commands: [], changes: [] };
}

/** Decide from arguments and state (pure). */
export function planUser(p: UserParams, st: UserState): UserPlan {
  if (!isUserName(p.name)) return { error: `invalid user name '${p.name}' (lowercase letters, digits, _ and -, at most 32)`, commands: [], changes: [] };
  if (p.state === 'absent') {
    if (!st.exists) return { commands: [], changes: [] };
    if (!isMarked(p, st)) return refusal(p, st, 'remove it');
    return {
      commands: [['sh', '-c', REMOVE_SCRIPT, 'user-remove', p.name, p.remove_home ? '1' : '']],
      changes: [`removed${p.remove_home ? ` with its home ${st.home}` : ''}`],
    };
  }
  if (st.missingGroups.length) {
    return { error: `group${st.missingGroups.length > 1 ? 's' : ''} ${st.missingGroups.join(', ')} do${st.missingGroups.length > 1 ? '' : 'es'} not exist`, commands: [], changes: [] };
  }
  const createHome = p.create_home !== false;
  const groups = [...new Set(p.groups ?? [])];
  const commands: string[][] = [];
  const changes: string[] = [];
  const wantMode = p.home_mode !== undefined ? normalizeMode(p.home_mode) : undefined;
  if (!st.exists) {
    // The home is always given explicitly so the chmod below knows where it is, whatever
    // /etc/default/useradd says.
    const home = p.home ?? `/home/${p.name}`;
    const argv = ['useradd'];
    if (p.system) argv.push('--system');
    if (p.mark) argv.push('--comment', p.mark);
    argv.push('--home-dir', home);
    if (p.shell) argv.push('--shell', p.shell);
    if (groups.length) argv.push('--groups', groups.join(','));
    argv.push(createHome ? '--create-home' : '--no-create-home', '--', p.name);
    commands.push(argv);
    changes.push(`new ${p.system ? 'system ' : ''}user, home ${home}${createHome ? '' : ' (not created)'}`);
    // useradd creates the home with HOME_MODE/UMASK from login.defs; an existing directory keeps its mode.
    if (wantMode && (createHome || st.homeMode !== undefined)) commands.push(['chmod', wantMode, '--', home]);
    return { commands, changes };
  }
  const mod: string[] = [];
  if (p.mark && st.comment !== p.mark) {
    if (!isLegacy(p, st)) return refusal(p, st, 'take it over (rename the app, or remove that user)');
    mod.push('--comment', p.mark);
    changes.push(`marked '${p.mark}'`);
  }
  if (p.home && p.home !== st.home) {
    mod.push('--home', p.home);
    changes.push(`home ${st.home} -> ${p.home}`);
  }
  if (p.shell && p.shell !== st.shell) {
    mod.push('--shell', p.shell);
    changes.push(`shell ${st.shell} -> ${p.shell}`);
  }
  const add = groups.filter((g) => !st.groups.includes(g));
  if (add.length) {
    mod.push('--append', '--groups', add.join(','));
    changes.push(`groups +${add.join(',')}`);
  }
  if (mod.length) commands.push(['usermod', ...mod, '--', p.name]);
  const home = p.home ?? st.home!;
  if (st.homeMode === undefined && createHome) {
    // The user exists but its home does not (deleted, or created with --no-create-home before).
    commands.push(['mkdir', '-p', '--', home], ['chown', `${p.name}:${st.primaryGroup ?? p.name}`, '--', home]);
    if (wantMode) commands.push(['chmod', wantMode, '--', home]);
    changes.push(`new home directory ${home}`);
  } else if (st.homeMode !== undefined && wantMode && st.homeMode !== wantMode) {
    commands.push(['chmod', wantMode, '--', home]);
    changes.push(`home mode ${st.homeMode} -> ${wantMode}`);
  }
  return { commands, changes };
}

/** What a user task reads: the user's state, and how to take a wanted group that does not exist. */
export interface UserFacts {
  state: UserState;
  /**
   * Check mode: the tasks before this one only said what they would do, so a wanted group
   * missing now may be one of them creates (an app user's own group). Only the read knows it
   * runs in check mode: this fact carries it to the decision.
   */
  groupsMayBePending: boolean;
}

export interface UserDecision extends UserPlan {
  /** Missing groups taken as ones an earlier task would create (check mode only). */
  pendingGroups?: string[];
}

/** Decide (pure): planUser, except that a group an earlier task would create is no failure. */
export function decideUser(p: UserParams, f: UserFacts): UserDecision {
  const missing = f.state.missingGroups;
  if (f.groupsMayBePending && missing.length && p.state !== 'absent') {
    // Joining such a group is a change the real run would make, not a failure.
    const pending = planUser(p, { ...f.state, missingGroups: [] });
    if (!pending.error) return { ...pending, pendingGroups: missing };
  }
  return planUser(p, f.state);
}

/** What `register:` sees of the user. */
const userData = (p: UserParams, st: UserState) => ({ name: p.name, uid: st.uid, home: p.home ?? st.home, shell: p.shell ?? st.shell });

export const user = defineModule<UserParams>({
  name: 'user',
  schema,
  run: runOperation<UserParams, UserFacts, UserDecision>({
    async read(ctx, p) {
      const read = await ctx.exec(script(READ_SCRIPT, p.name, p.home ?? '', ...(p.groups ?? [])));
      if (read.code !== 0) return { result: { changed: false, failed: true, msg: `cannot read user ${p.name}: ${outputTail(read)}` } };
      return { state: parseUserState(read.stdout), groupsMayBePending: ctx.check };
    },
    decide: decideUser,
    changed: (plan) => plan.commands.length > 0,
    apply: (ctx, p, plan) => runSequence(ctx, plan.commands),
    // A command of the sequence may have run before one failed.
    failure: (p, err, _plan, { state: st }) => ({ msg: `user ${p.name}: ${err}`, changed: true, data: userData(p, st) }),
    result(ctx, p, plan, { state: st }, changed) {
      const data = userData(p, st);
      if (!changed) return { changed, msg: p.state === 'absent' ? `no user ${p.name}` : `user ${p.name} up to date`, data };
      const what = `user ${p.name}: ${plan.changes.join(', ')}`;
      // Wording only: a check says what the run would do.
      if (!ctx.check) return { changed, msg: p.state === 'absent' ? what : `${st.exists ? 'changed' : 'created'} ${what}`, data };
      const msg = `would ${p.state === 'absent' ? 'remove' : st.exists ? 'change' : 'create'} ${what}`;
      if (!plan.pendingGroups) return { changed, msg, data };
      // No data: it would describe a user that can only be made once the groups are.
      const n = plan.pendingGroups.length;
      return { changed, msg: `${msg} (group${n > 1 ? 's' : ''} ${plan.pendingGroups.join(', ')} not created yet)` };
    },
  }),
});
