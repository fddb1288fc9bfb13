/**
 * redis_users: the Redis users of the apps on a Redis server, as the one ACL file Redis reads
 * (`acl_file`, owned whole by this module), loaded into the running Redis when it differs.
 *
 * The file holds, sorted by name as Redis lists them: `default` switched off (nobody gets in
 * without a user and a password), `flight` (the admin this module loads the file as), and one
 * user per app that may touch only keys and channels under its prefix, with every command but
 * Redis's dangerous ones (FLUSHALL, FLUSHDB, KEYS, CONFIG, DEBUG, ...): one app can neither read
 * nor wipe another's queue or cache. Each line is in the canonical form `ACL LIST` prints, so the
 * running Redis is compared with the wanted file as text.
 *
 * Passwords are made once (src/module-kit/password-file.ts) and kept root-only in each user's
 * `password_file`; the ACL file holds only their SHA-256. The admin's reaches redis-cli through
 * REDISCLI_AUTH inside the script, never argv. No message or diff holds a password or a hash.
 *
 * Round trips: the password files and the ACL file are read at once (`get`), then one script
 * looks for the files that could not be read and compares the running Redis's users with the
 * wanted ones (the wanted text goes on stdin; only same/differs comes back). A change costs a
 * `put` each and one more script (rename into place, `ACL LOAD`).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { APP_NAME_PATTERN } from '../src/definitions/schemas/common.js';
import { FlightError } from '../src/errors.js';
import { kind } from '../src/kinds.js';
import { defineModule, type ModuleContext } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import { generatePassword, readPasswordFile, scrub, stagePasswordFile, type PasswordRead } from '../src/module-kit/password-file.js';
import { sha256, tempPathFor } from '../src/module-kit/write.js';

export const ADMIN_USER = 'flight';
/** Names the file gives its own users: no app may take them. */
const RESERVED = new Set(['default', ADMIN_USER]);
/** Key patterns are globs: a prefix holds none of `*?[]\` nor spaces. */
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;
const ABSOLUTE = '^/[^\\n\\0]*[^/\\n\\0]$';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['users', 'acl_file', 'admin_password_file', 'load'],
  properties: {
    users: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'prefix', 'password_file'],
        properties: {
          name: { type: 'string', pattern: APP_NAME_PATTERN, description: "The user's name: the app's." },
          prefix: { type: 'string', pattern: PREFIX.source, description: 'Every key and channel the user may touch starts with it.' },
          password_file: { type: 'string', pattern: ABSOLUTE, description: 'On the Redis server: holds the password (generated when missing).' },
        },
      },
    },
    acl_file: { type: 'string', pattern: ABSOLUTE },
    admin_password_file: { type: 'string', pattern: ABSOLUTE, description: 'The password of `flight`, the user that loads the file (generated when missing).' },
    load: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port'],
      properties: {
        host: kind('address'),
        port: { type: 'integer', minimum: 1, maximum: 65535 },
      },
      description: 'Where the running Redis listens: the file is loaded into it (ACL LOAD) when it differs.',
    },
    password_of: { type: 'string', pattern: APP_NAME_PATTERN, description: "The user whose password the result carries as `password`, for the app's env." },
  },
} as const;

/** The arguments, as the schema declares them. */
export type RedisUsersParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;
/** One of `users`, as the schema declares it. */
export type RedisUser = RedisUsersParams['users'][number];

export interface AclEntry {
  name: string;
  password: string;
  /** null: every key and channel (the admin). */
  prefix: string | null;
}

/** One user as `ACL LIST` prints it (pure). */
export function aclLine(e: AclEntry): string {
  const hash = `#${sha256(e.password)}`;
  if (e.prefix === null) return `user ${e.name} on ${hash} ~* &* +@all`;
  return `user ${e.name} on ${hash} ~${e.prefix}* resetchannels &${e.prefix}* +@all -@dangerous`;
}

/** The whole ACL file (pure): `default` off, then every user, sorted by name as Redis keeps them. */
export function aclFile(entries: readonly AclEntry[]): string {
  const lines = [{ name: 'default', line: 'user default off resetchannels -@all' }, ...entries.map((e) => ({ name: e.name, line: aclLine(e) }))];
  lines.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return lines.map((l) => `${l.line}\n`).join('');
}

/** Why the users cannot be written, or undefined (pure). */
export function usersError(users: readonly RedisUser[], adminFile: string): string | undefined {
  const names = new Set<string>();
  const files = new Set<string>([adminFile]);
  for (const u of users) {
    if (!new RegExp(APP_NAME_PATTERN).test(u.name)) return `invalid user name '${u.name}' (expected ${APP_NAME_PATTERN})`;
    if (RESERVED.has(u.name)) return `the user name '${u.name}' is Redis's or Flight's own`;
    if (names.has(u.name)) return `the user '${u.name}' is given twice`;
    if (!PREFIX.test(u.prefix)) return `invalid key prefix '${u.prefix}' for '${u.name}' (expected ${PREFIX.source}: no glob characters)`;
    if (files.has(u.password_file)) return `the password file ${u.password_file} is given twice`;
    names.add(u.name);
    files.add(u.password_file);
  }
  // A prefix that starts another would let its user into the other's keys.
  for (const a of users) {
    const b = users.find((x) => x !== a && x.prefix.startsWith(a.prefix));
    if (b) return `the key prefix '${a.prefix}' of '${a.name}' also covers the keys of '${b.name}' ('${b.prefix}')`;
  }
  return undefined;
}

/** What the running Redis said when asked for its users. */
export type Loaded = 'same' | 'differs' | 'down' | 'noauth' | 'nocli';

export interface ReadState {
  /** Of the files whose `get` failed, those that exist (so cannot be read, rather than missing). */
  exists: Set<string>;
  loaded: Loaded;
}

export function parseRead(stdout: string): ReadState {
  const st: ReadState = { exists: new Set(), loaded: 'nocli' };
  for (const line of stdout.split('\n')) {
    const [kind, value] = line.split('\t');
    if (kind === 'exists' && value) st.exists.add(value);
    else if (kind === 'loaded' && ['same', 'differs', 'down', 'noauth', 'nocli'].includes(value!)) st.loaded = value as Loaded;
  }
  return st;
}

/** redis-cli as the admin: the password from its file into REDISCLI_AUTH, never argv. */
const CLI_FN = `cli() { REDISCLI_AUTH=$(cat -- "$admin") redis-cli -h "$host" -p "$port" --user ${ADMIN_USER} --no-auth-warning "$@" 2>&1; }`;

/** $1 host $2 port $3 admin file; then the files to look for. stdin: the wanted users. */
const READ_SCRIPT = `host=$1 port=$2 admin=$3; shift 3
${CLI_FN}
for f; do if [ -e "$f" ]; then printf 'exists\\t%s\\n' "$f"; fi; done
command -v redis-cli >/dev/null 2>&1 || { printf 'loaded\\tnocli\\n'; exit 0; }
[ -r "$admin" ] || { printf 'loaded\\tnoauth\\n'; exit 0; }
out=$(cli ACL LIST)
case $out in
  "Could not connect"*) printf 'loaded\\tdown\\n' ;;
  *NOAUTH*|*WRONGPASS*) printf 'loaded\\tnoauth\\n' ;;
  *) if [ "$out" = "$(cat)" ]; then printf 'loaded\\tsame\\n'; else printf 'loaded\\tdiffers\\n'; fi ;;
esac`;

/**
 * $1 host $2 port $3 admin file $4 load (1: ACL LOAD after the renames); then pairs of a staged
 * temp file and its place. A failed rename removes the temp files not yet moved.
 */
const APPLY_SCRIPT = `host=$1 port=$2 admin=$3 load=$4; shift 4
${CLI_FN}
while [ $# -ge 2 ]; do
  mv -f -- "$1" "$2" || { while [ $# -ge 2 ]; do rm -f -- "$1"; shift 2; done; exit 1; }
  shift 2
done
[ "$load" = 1 ] || exit 0
out=$(cli ACL LOAD)
[ "$out" = OK ] || { printf '%s\\n' "$out" | head -n 1 >&2; exit 1; }`;

export interface RedisPlan {
  /** Password files to generate (users' and the admin's). */
  passwords: string[];
  writeFile: boolean;
  /** ACL LOAD into the running Redis. */
  load: boolean;
}

/** What must change (pure). A Redis that is down or runs without Flight's file reads the file when it (re)starts. */
export function planUsers(newPasswords: readonly string[], fileSame: boolean, loaded: Loaded): RedisPlan {
  return { passwords: [...newPasswords], writeFile: !fileSame, load: loaded === 'differs' };
}

export const planChanged = (plan: RedisPlan): boolean => plan.passwords.length > 0 || plan.writeFile || plan.load;

/** The plan in words, for msg: paths only. */
export function describeRedisPlan(plan: RedisPlan, aclPath: string, check: boolean): string {
  const out: string[] = [];
  for (const f of plan.passwords) out.push(`${check ? 'generate' : 'generated'} a password into ${f}`);
  if (plan.writeFile) out.push(`${check ? 'write' : 'wrote'} ${aclPath}`);
  if (plan.load) out.push(`${check ? 'load' : 'loaded'} the users into Redis`);
  return `${check ? 'would ' : ''}${out.join(', ')}`;
}

/** Why the running Redis was not compared or loaded, for msg; '' when it was. */
export function loadedNote(loaded: Loaded): string {
  if (loaded === 'down') return ' (Redis is not running: it reads the file when it starts)';
  if (loaded === 'noauth') return ` (the running Redis does not know the ${ADMIN_USER} user: it reads the file when it restarts)`;
  if (loaded === 'nocli') return ' (Redis is not installed yet)';
  return '';
}

/** A diff's side: the users, without their hashes. */
const userNames = (text: string): string => text.split('\n').filter(Boolean).map((l) => `${l.replace(/ #[0-9a-f]{64}/, ' #(hash)')}\n`).join('');

async function readAll(ctx: ModuleContext, files: readonly string[]): Promise<Map<string, PasswordRead>> {
  const reads = await Promise.all(files.map((f) => readPasswordFile(ctx, f)));
  return new Map(files.map((f, i) => [f, reads[i]!]));
}

/** The file's text; undefined when `get` failed (missing, or unreadable: the state read tells). A lost connection is thrown. */
async function readText(ctx: ModuleContext, file: string): Promise<string | undefined> {
  try {
    return (await ctx.get(file)).toString('utf8');
  } catch (err) {
    if (!(err instanceof FlightError) || err.kind !== 'failed') throw err;
    return undefined;
  }
}

/** What a task reads: the passwords (read, or generated for files still to write: secrets), the ACL files, the running Redis. */
export interface RedisFacts {
  passwords: Map<string, string>;
  /** Password files that are missing: their password is new. */
  fresh: string[];
  /** The ACL file's text; undefined when missing. */
  current?: string;
  wanted: string;
  loaded: Loaded;
}

const said = (msg: string): string => `redis_users: ${msg}`;

export const redis_users = defineModule<RedisUsersParams>({
  name: 'redis_users',
  schema,
  run: runOperation<RedisUsersParams, RedisFacts, RedisPlan & { error?: never }>({
    async read(ctx, p) {
      const fail = (msg: string) => ({ result: { changed: false, failed: true, msg: said(msg) } });
      // The arguments first: nothing is read for a task that cannot run.
      const bad = usersError(p.users, p.admin_password_file);
      if (bad) return fail(bad);
      if (p.password_of !== undefined && !p.users.some((u) => u.name === p.password_of)) return fail(`password_of: no user '${p.password_of}' among the users`);

      const files = [p.admin_password_file, ...p.users.map((u) => u.password_file)];
      const [reads, current] = await Promise.all([readAll(ctx, files), readText(ctx, p.acl_file)]);
      const invalid = [...reads.values()].find((r): r is { invalid: string } => 'invalid' in r);
      if (invalid) return fail(invalid.invalid);
      const passwords = new Map(files.map((f) => {
        const r = reads.get(f)!;
        return [f, 'password' in r ? r.password : generatePassword()];
      }));
      const fresh = files.filter((f) => !('password' in reads.get(f)!));

      const entries: AclEntry[] = [
        { name: ADMIN_USER, password: passwords.get(p.admin_password_file)!, prefix: null },
        ...p.users.map((u) => ({ name: u.name, password: passwords.get(u.password_file)!, prefix: u.prefix })),
      ];
      const wanted = aclFile(entries);
      const unread = current === undefined ? [...fresh, p.acl_file] : fresh;
      const read = await ctx.exec(script(READ_SCRIPT, p.load.host, String(p.load.port), p.admin_password_file, ...unread), { stdin: wanted });
      if (read.code !== 0) return fail(scrub(`reading the state on ${ctx.hostName} failed: ${read.stderr.trim() || `exit code ${read.code}`}`, [...passwords.values()]));
      const st = parseRead(read.stdout);
      // A file that exists but could not be read (a directory, a permission) is not replaced.
      const stuck = unread.filter((f) => st.exists.has(f));
      if (stuck.length) return fail(`cannot read ${stuck.join(', ')} on ${ctx.hostName}: fix it, or remove it to have it made again`);
      return { passwords, fresh, current, wanted, loaded: st.loaded };
    },
    decide: (p, f) => planUsers(f.fresh, f.current === f.wanted, f.loaded),
    changed: planChanged,
    async apply(ctx, p, plan, f) {
      // Staged first, renamed together: the ACL file never names a password not yet on disk.
      const staged = await Promise.all(plan.passwords.map(async (file) => [await stagePasswordFile(ctx, file, f.passwords.get(file)!), file]));
      if (plan.writeFile) {
        const tmp = tempPathFor(p.acl_file);
        await ctx.put(tmp, f.wanted, { mode: 0o640, owner: 'root', group: 'redis' });
        staged.push([tmp, p.acl_file]);
      }
      const apply = await ctx.exec(script(APPLY_SCRIPT, p.load.host, String(p.load.port), p.admin_password_file, plan.load ? '1' : '0', ...staged.flat()));
      if (apply.code === 0) return undefined;
      return scrub(`applying on ${ctx.hostName} failed: ${apply.stderr.trim() || `exit code ${apply.code}`}`, [...f.passwords.values()]);
    },
    // Files may be staged (or renamed into place) already when loading fails.
    failure: (_p, err, plan) => ({ msg: said(err), changed: plan.passwords.length > 0 || plan.writeFile }),
    result(ctx, p, plan, f, changed) {
      const note = loadedNote(f.loaded);
      // `loaded`: the running Redis has these users (configure insists on it before the env names them).
      const loaded = f.loaded === 'same' || f.loaded === 'differs';
      const own = p.users.find((u) => u.name === p.password_of);
      // A password a check only imagined is no password: ''.
      const data = { loaded, ...(own ? { password: ctx.check && f.fresh.includes(own.password_file) ? '' : f.passwords.get(own.password_file)! } : {}) };
      if (!changed) return { changed, msg: said(`${p.users.length} user(s) up to date${note}`), data };
      const diff = ctx.diff && plan.writeFile ? [{ path: p.acl_file, before: userNames(f.current ?? ''), after: userNames(f.wanted) }] : undefined;
      // Wording only: a check says what the run would do.
      return { changed, msg: said(`${describeRedisPlan(plan, p.acl_file, ctx.check)}${note}`), data, diff };
    },
  }),
});
