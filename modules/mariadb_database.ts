/**
 * mariadb_database: an app's database and its MariaDB user, on the cluster's database server
 * (run as root: root logs in to MariaDB over the unix socket, as Debian sets it up).
 *
 * The password is generated once on the control machine and kept on the server in
 * `password_file` (0600, root); later runs read it back, so it changes only when the file is
 * removed. It is a secret all the way: it travels only in `put` contents and in SQL on the
 * `mariadb` client's stdin, none of which -vv logs; no argv, no script argument, no output of
 * the state read and no message ever holds it.
 *
 * Round trips: a no-change run costs two (get the password file, then one read of the database,
 * the accounts, whether each has the password and the grant, and whether the file exists); a
 * change one more (SQL on stdin), and a new password file two more (mkdir, put).
 */
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { dbClientError, kind } from '../src/kinds.js';
import { defineModule } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import { generatePassword, readPasswordFile, scrub, stagePasswordFile } from '../src/module-kit/password-file.js';

/** Also an app's Linux user name (modules/user.ts), without the `-` SQL names would need quoting for. */
export const DB_NAME = /^[a-z_][a-z0-9_]{0,31}$/;

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'clients', 'password_file'],
  properties: {
    name: { type: 'string', pattern: DB_NAME.source, description: "The database's name and the user's." },
    clients: { type: 'array', minItems: 1, items: kind('db-client'), description: "Where the user may connect from: one account 'name'@'client' each." },
    password_file: { type: 'string', pattern: '^/[^\\n\\0]*[^/\\n\\0]$', description: 'On the database server: holds the password (generated when missing).' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type MariadbDatabaseParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** The client forms and their checks are a kind of value (src/kinds.ts). */
export const clientError = dbClientError;

/** MariaDB stores host names lowercased: compare and report them so. */
export const normalizeClients = (clients: readonly string[]): string[] => [...new Set(clients.map((c) => c.toLowerCase()))];

/**
 * A SQL string literal: `\` and `'` escaped. `'` is doubled, which holds in every sql_mode;
 * `\` needs backslash escapes on, which every batch sets first (SESSION below).
 */
export const sqlString = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** A backquoted identifier (names are pattern-checked already; this is the second fence). */
export const sqlIdent = (v: string): string => `\`${v.replace(/`/g, '``')}\``;

/**
 * In GRANT ... ON `db`.*, `_` and `%` are wildcards: `shop_db` would also grant `shopXdb`.
 * Escaped, the grant is for this one database (and mysql.db stores the escaped form).
 */
export const grantPattern = (name: string): string => name.replace(/[_%]/g, '\\$&');

const account = (name: string, host: string): string => `${sqlString(name)}@${sqlString(host)}`;

/** The server's sql_mode might include NO_BACKSLASH_ESCAPES, which sqlString's `\\` relies on not being set. */
const SESSION = "SET SESSION sql_mode = 'STRICT_ALL_TABLES';";

/** Database-level privileges GRANT ALL sets (all but GRANT OPTION), present since MariaDB 10.3.4. */
const DB_PRIVILEGES = [
  'Select', 'Insert', 'Update', 'Delete', 'Create', 'Drop', 'References', 'Index', 'Alter', 'Create_tmp_table',
  'Lock_tables', 'Create_view', 'Show_view', 'Create_routine', 'Alter_routine', 'Execute', 'Event', 'Trigger', 'Delete_history',
];

/**
 * The state query (pure). Each account's password is compared in SQL, so the output carries
 * only 1/0, never the password or its hash. Rows: `database N`, `account HOST PW GRANT`.
 */
export function stateSql(name: string, password: string): string {
  const granted = DB_PRIVILEGES.map((p) => `d.${p}_priv = 'Y'`).join(' AND ');
  return [
    SESSION,
    `SELECT 'database', COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ${sqlString(name)};`,
    `SELECT 'account', u.Host, u.plugin IN ('mysql_native_password', '') AND u.authentication_string = PASSWORD(${sqlString(password)}),` +
      ` COALESCE(${granted}, 0) FROM mysql.user u LEFT JOIN mysql.db d ON d.Host = u.Host AND d.User = u.User` +
      ` AND d.Db = ${sqlString(grantPattern(name))} WHERE u.User = ${sqlString(name)};`,
  ].join('\n') + '\n';
}

/**
 * Runs the SQL on stdin with the mariadb client, as root over the unix socket. On failure only
 * the first line of the client's error is kept, cut before " near '": a parse error quotes the
 * statement from where it failed, which could be the password.
 */
const SQL_FN = `sql() {
  { err=$(mariadb --batch --skip-column-names 2>&1 >&3); rc=$?; } 3>&1
  [ "$rc" -eq 0 ] && return 0
  printf '%s\\n' "$err" | head -n 1 | sed "s/ near '.*//" >&2
  return "$rc"
}`;

/** $1: the password file. Exit 127: no client. */
const READ_SCRIPT = `${SQL_FN}
if [ -e "$1" ]; then printf 'passwordfile\\t1\\n'; else printf 'passwordfile\\t0\\n'; fi
command -v mariadb >/dev/null 2>&1 || { echo 'mariadb: command not found' >&2; exit 127; }
sql`;

/** $1: a new password file to move into place at $2 before the SQL runs (the file is the source of truth). */
const APPLY_SCRIPT = `${SQL_FN}
if [ -n "$1" ]; then mv -f -- "$1" "$2" || { rm -f -- "$1"; exit 1; }; fi
sql`;

export interface AccountState {
  host: string;
  /** The account authenticates with the password (mysql_native_password). */
  password: boolean;
  /** It holds all privileges on the database. */
  granted: boolean;
}

export interface DbState {
  passwordFile: boolean;
  database: boolean;
  accounts: AccountState[];
}

/** mariadb --batch writes \\, \t, \n and \0 escaped inside values. */
const unescapeBatch = (v: string): string =>
  v.replace(/\\(.)/g, (_, c: string) => ({ t: '\t', n: '\n', '0': '\0' })[c] ?? c);

export function parseState(stdout: string): DbState {
  const st: DbState = { passwordFile: false, database: false, accounts: [] };
  for (const line of stdout.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'passwordfile') st.passwordFile = f[1] === '1';
    else if (f[0] === 'database') st.database = f[1] !== '0';
    else if (f[0] === 'account' && f.length === 4) st.accounts.push({ host: unescapeBatch(f[1]!), password: f[2] === '1', granted: f[3] === '1' });
  }
  return st;
}

export interface DbPlan {
  writePasswordFile: boolean;
  createDatabase: boolean;
  /** Hosts of accounts to create (each also gets the grant). */
  create: string[];
  /** Existing accounts whose password differs. */
  setPassword: string[];
  /** Existing accounts without all privileges on the database. */
  grant: string[];
  /** Accounts of the user whose host is no longer a client. */
  drop: string[];
}

/** What must change, from the wanted clients and the state (pure). The database is never dropped. */
export function planDatabase(clients: readonly string[], st: DbState): DbPlan {
  const plan: DbPlan = { writePasswordFile: !st.passwordFile, createDatabase: !st.database, create: [], setPassword: [], grant: [], drop: [] };
  for (const client of clients) {
    const acc = st.accounts.find((a) => a.host === client);
    if (!acc) plan.create.push(client);
    else {
      if (!acc.password) plan.setPassword.push(client);
      if (!acc.granted) plan.grant.push(client);
    }
  }
  plan.drop = st.accounts.map((a) => a.host).filter((h) => !clients.includes(h));
  return plan;
}

export const planChanged = (p: DbPlan): boolean =>
  p.writePasswordFile || p.createDatabase || [p.create, p.setPassword, p.grant, p.drop].some((l) => l.length > 0);

/** The SQL that carries out the plan (pure); it holds the password, so it only ever goes to stdin. */
export function applySql(name: string, plan: DbPlan, password: string): string {
  const grant = (h: string) => `GRANT ALL PRIVILEGES ON ${sqlIdent(grantPattern(name))}.* TO ${account(name, h)};`;
  return [
    SESSION,
    ...(plan.createDatabase ? [`CREATE DATABASE ${sqlIdent(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`] : []),
    ...plan.create.flatMap((h) => [`CREATE USER ${account(name, h)} IDENTIFIED BY ${sqlString(password)};`, grant(h)]),
    ...plan.setPassword.map((h) => `ALTER USER ${account(name, h)} IDENTIFIED BY ${sqlString(password)};`),
    ...plan.grant.map(grant),
    ...plan.drop.map((h) => `DROP USER ${account(name, h)};`),
  ].join('\n') + '\n';
}

/** The plan in words, for msg: hosts and the file's path only. */
export function describePlan(plan: DbPlan, passwordFile: string, check: boolean): string {
  const out: string[] = [];
  const say = (base: string, past: string, hosts?: string[]) => {
    if (hosts?.length === 0) return;
    out.push(`${check ? base : past}${hosts ? ` ${hosts.join(', ')}` : ''}`);
  };
  if (plan.writePasswordFile) say(`generate a password into ${passwordFile}`, `generated a password into ${passwordFile}`);
  if (plan.createDatabase) say('create the database', 'created the database');
  say('create accounts for', 'created accounts for', plan.create);
  say('reset the password of', 'reset the password of', plan.setPassword);
  say('grant all privileges to', 'granted all privileges to', plan.grant);
  say('drop accounts for', 'dropped accounts for', plan.drop);
  return `${check ? 'would ' : ''}${out.join(', ')}`;
}

/** A failed read or change, in words that name the host and what to do. */
function mariadbError(host: string, what: string, code: number, stderr: string): string {
  const err = stderr.trim() || `exit code ${code}`;
  if (code === 127 && /mariadb: command not found/.test(err)) {
    return `mariadb is not installed on ${host} (no mariadb client): install mariadb-server there and start it (service mariadb start)`;
  }
  if (/ERROR 200[23]\b/.test(err)) return `mariadb is not running on ${host} (${err}): start it (service mariadb start)`;
  if (/ERROR (1698|1045)\b/.test(err)) return `root cannot log in to mariadb on ${host} over the unix socket (${err}): run the task as root (become: true)`;
  return `${what} on ${host} failed: ${err}`;
}

/** A diff's side: one account host a line. */
const lines = (hosts: readonly string[]): string => hosts.map((h) => `${h}\n`).join('');

/** What a task reads on the database server; the password in it is a secret, never shown. */
export interface DbFacts {
  /** The wanted clients, as MariaDB stores them. */
  clients: string[];
  /** The file's password, or one generated for a file still to write. */
  password: string;
  /** The password was read from the file. */
  stored: boolean;
  state: DbState;
  /** MariaDB is not installed or not running: the message saying so. */
  unprovisioned?: string;
  /**
   * Check mode: the tasks before this one (provision) only said what they would do, so MariaDB
   * may be missing for now. Only the read knows it runs in check mode: this fact carries it.
   */
  provisionPending: boolean;
}

export type DbDecision = DbPlan & { error?: string };

const NOTHING: DbState = { passwordFile: false, database: false, accounts: [] };

const said = (name: string, msg: string): string => `mariadb_database ${name}: ${msg}`;

/** Decide (pure). A server not provisioned yet fails, except in a check, where everything would be made once provision has run. */
export function decideDatabase(name: string, f: DbFacts): DbDecision {
  if (f.unprovisioned) {
    const all = planDatabase(f.clients, NOTHING);
    return f.provisionPending ? all : { ...all, error: said(name, f.unprovisioned) };
  }
  // The file was read a moment ago: keep it whatever the second look said.
  return planDatabase(f.clients, { ...f.state, passwordFile: f.state.passwordFile || f.stored });
}

export const mariadb_database = defineModule<MariadbDatabaseParams>({
  name: 'mariadb_database',
  schema,
  run: runOperation<MariadbDatabaseParams, DbFacts, DbDecision>({
    async read(ctx, p) {
      const fail = (msg: string) => ({ result: { changed: false, failed: true, msg: said(p.name, msg) } });
      // The arguments first: nothing is read for a task that cannot run.
      if (!DB_NAME.test(p.name)) return fail(`invalid name (expected ${DB_NAME.source})`);
      const clients = normalizeClients(p.clients);
      const bad = clients.map(clientError).find((e) => e !== undefined);
      if (bad) return fail(bad);

      // The password first: the state read compares each account's password with it in SQL.
      const file = await readPasswordFile(ctx, p.password_file);
      if ('invalid' in file) return fail(file.invalid);
      const password = 'password' in file ? file.password : generatePassword();
      const facts = { clients, password, stored: 'password' in file, provisionPending: ctx.check };

      const read = await ctx.exec(script(READ_SCRIPT, p.password_file), { stdin: stateSql(p.name, password) });
      if (read.code !== 0) {
        const err = scrub(mariadbError(ctx.hostName, 'reading the mariadb state', read.code, read.stderr), [password]);
        if (read.code === 127 || /ERROR 200[23]\b/.test(read.stderr)) return { ...facts, state: NOTHING, unprovisioned: err };
        return fail(err);
      }
      const state = parseState(read.stdout);
      // A file that exists but could not be read (a directory, a permission) is not replaced.
      if (state.passwordFile && 'unreadable' in file) return fail(`cannot read the password file: ${file.unreadable}`);
      return { ...facts, state };
    },
    decide: (p, f) => decideDatabase(p.name, f),
    changed: planChanged,
    async apply(ctx, p, plan, f) {
      // Its errors (mkdir's, put's) name the path, never the content.
      const tmp = plan.writePasswordFile ? await stagePasswordFile(ctx, p.password_file, f.password) : '';
      const apply = await ctx.exec(script(APPLY_SCRIPT, tmp, p.password_file), { stdin: applySql(p.name, plan, f.password) });
      return apply.code === 0 ? undefined : scrub(mariadbError(ctx.hostName, 'changing mariadb', apply.code, apply.stderr), [f.password]);
    },
    // The password file may be in place already when the SQL fails.
    failure: (p, err, plan) => ({ msg: said(p.name, err), changed: plan.writePasswordFile }),
    result(ctx, p, plan, f, changed) {
      // A password a check only imagined is no password: ''.
      const data = { password: f.stored || !ctx.check ? f.password : '', database: p.name, user: p.name, clients: f.clients };
      if (f.unprovisioned) {
        // Only a check gets here (decideDatabase); no account holds any password yet.
        return { changed, msg: said(p.name, `would create the database, ${f.clients.length} account(s) and the password file (MariaDB is not running on ${ctx.hostName} yet)`), data: { ...data, password: '' } };
      }
      if (!changed) return { changed, msg: said(p.name, `database and ${f.clients.length} account(s) up to date`), data };
      const before = f.state.accounts.map((a) => a.host);
      const diff = ctx.diff
        ? [{ path: `mariadb accounts of ${p.name}`, before: lines(before), after: lines([...before.filter((h) => f.clients.includes(h)), ...plan.create]) }]
        : undefined;
      // Wording only: a check says what the run would do.
      return { changed, msg: said(p.name, describePlan(plan, p.password_file, ctx.check)), data, diff };
    },
  }),
});
