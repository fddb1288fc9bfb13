import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toShell } from '../../../src/command.js';
import { failed } from '../../../src/errors.js';
import { createAjv } from '../../../src/json-schema.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { checkArgs } from '../../../src/runner/args.js';
import {
  applySql, decideDatabase, describePlan, grantPattern, mariadb_database, normalizeClients,
  parseState, planChanged, planDatabase, sqlIdent, sqlString, stateSql, type DbState,
} from '../../../modules/mariadb_database.js';

const HOSTILE_CLIENTS = ["x'; DROP DATABASE y; --", '-e', '10.0.0.1\n10.0.0.2', 'a\nb', '%', '10.0.0.%', '', ' 10.0.0.1', 'db host', "db'", 'db`', '$(id)', '10.0.0.0/24', '1.2.3.4/'];

test('schema: names, clients and the password file are checked strictly', () => {
  const v = createAjv().compile(mariadb_database.schema);
  const ok = { name: 'shop', clients: ['10.0.0.11', '10.0.1.0/255.255.255.0', 'fe80::1', 'web-1.example.com', 'localhost'], password_file: '/etc/flight/mariadb/shop.password' };
  assert.ok(v(ok), JSON.stringify(v.errors));
  for (const name of ['Shop', '1shop', 'shop-db', 'a b', 'x'.repeat(33), '', "shop'"]) assert.ok(!v({ ...ok, name }), name);
  for (const c of HOSTILE_CLIENTS) assert.ok(!v({ ...ok, clients: [c] }), JSON.stringify(c));
  assert.ok(!v({ ...ok, clients: [] }), 'at least one client');
  for (const f of ['relative.password', '/etc/flight/', '/etc/x\ny']) assert.ok(!v({ ...ok, password_file: f }), f);
  assert.ok(!v({ ...ok, password: 'x' }), 'unknown arguments are errors');
  // The runner's own check (coercing, defaults) refuses them too, before anything connects.
  assert.match(checkArgs(mariadb_database, { ...ok, clients: ["x'; DROP DATABASE y; --"] }) ?? '', /clients\.0: must be an address MariaDB lets an app in from/);
});

test('SQL quoting: literals escape \\ and \', identifiers are backquoted, grants escape wildcards', () => {
  assert.equal(sqlString('plain'), "'plain'");
  assert.equal(sqlString("it's"), "'it''s'");
  assert.equal(sqlString('a\\b'), "'a\\\\b'");
  assert.equal(sqlString("\\'; DROP DATABASE y; --"), "'\\\\''; DROP DATABASE y; --'");
  assert.equal(sqlIdent('shop'), '`shop`');
  assert.equal(sqlIdent('a`b'), '`a``b`');
  assert.equal(grantPattern('my_shop'), 'my\\_shop');
  assert.equal(grantPattern('shop'), 'shop');
});

const empty: DbState = { passwordFile: false, database: false, accounts: [] };
const settled: DbState = {
  passwordFile: true, database: true,
  accounts: [{ host: '10.0.0.11', password: true, granted: true }, { host: '10.0.0.12', password: true, granted: true }],
};

test('planDatabase: everything on a fresh server, nothing when settled, each drift on its own', () => {
  assert.deepEqual(planDatabase(['10.0.0.11', '10.0.0.12'], empty), {
    writePasswordFile: true, createDatabase: true, create: ['10.0.0.11', '10.0.0.12'], setPassword: [], grant: [], drop: [],
  });
  const none = planDatabase(['10.0.0.11', '10.0.0.12'], settled);
  assert.equal(planChanged(none), false);
  assert.deepEqual(none, { writePasswordFile: false, createDatabase: false, create: [], setPassword: [], grant: [], drop: [] });

  const drift = planDatabase(['10.0.0.11', '10.0.0.13'], {
    ...settled,
    accounts: [{ host: '10.0.0.11', password: false, granted: false }, { host: '10.0.0.12', password: true, granted: true }],
  });
  assert.deepEqual(drift, {
    writePasswordFile: false, createDatabase: false, create: ['10.0.0.13'], setPassword: ['10.0.0.11'], grant: ['10.0.0.11'], drop: ['10.0.0.12'],
  });
  // A database someone dropped is created again; the plan never drops one.
  assert.equal(planDatabase(['10.0.0.11', '10.0.0.12'], { ...settled, database: false }).createDatabase, true);
  // A lost password file: a new password, set on every account.
  const lost = planDatabase(['10.0.0.11'], { passwordFile: false, database: true, accounts: [{ host: '10.0.0.11', password: false, granted: true }] });
  assert.equal(lost.writePasswordFile, true);
  assert.deepEqual(lost.setPassword, ['10.0.0.11']);
});

test('decideDatabase: a server without MariaDB fails, except in a check, where everything would be made; a file just read is kept', () => {
  const clients = ['10.0.0.11', '10.0.0.12'];
  const facts = { clients, password: 'pw', stored: false, state: settled, provisionPending: false };
  assert.deepEqual(decideDatabase('shop', facts), planDatabase(clients, settled));
  const down = { ...facts, state: empty, unprovisioned: 'mariadb is not running on db-1 (ERROR 2002): start it' };
  assert.deepEqual(decideDatabase('shop', down), { ...planDatabase(clients, empty), error: 'mariadb_database shop: mariadb is not running on db-1 (ERROR 2002): start it' });
  const pending = decideDatabase('shop', { ...down, provisionPending: true });
  assert.equal(pending.error, undefined);
  assert.deepEqual(pending, planDatabase(clients, empty), 'the password file, the database and every account');
  // The state read said no file, but the file was read a moment before: no new password.
  const raced = decideDatabase('shop', { ...facts, stored: true, state: { ...settled, passwordFile: false } });
  assert.equal(raced.writePasswordFile, false);
  assert.equal(planChanged(raced), false);
});

test('applySql: one statement per change, the password only inside a literal', () => {
  const plan = { writePasswordFile: true, createDatabase: true, create: ['10.0.0.13'], setPassword: ['10.0.0.11'], grant: ['10.0.0.11'], drop: ['old.example'] };
  assert.equal(applySql('my_shop', plan, "pa'ss"), [
    "SET SESSION sql_mode = 'STRICT_ALL_TABLES';",
    'CREATE DATABASE `my_shop` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;',
    "CREATE USER 'my_shop'@'10.0.0.13' IDENTIFIED BY 'pa''ss';",
    "GRANT ALL PRIVILEGES ON `my\\_shop`.* TO 'my_shop'@'10.0.0.13';",
    "ALTER USER 'my_shop'@'10.0.0.11' IDENTIFIED BY 'pa''ss';",
    "GRANT ALL PRIVILEGES ON `my\\_shop`.* TO 'my_shop'@'10.0.0.11';",
    "DROP USER 'my_shop'@'old.example';",
    '',
  ].join('\n'));
});

test('stateSql compares the password in SQL; parseState reads the rows', () => {
  const sql = stateSql('my_shop', 'S3cret');
  assert.match(sql, /PASSWORD\('S3cret'\)/);
  assert.match(sql, /d\.Db = 'my\\\\_shop'/, 'mysql.db holds the escaped grant pattern');
  const st = parseState('passwordfile\t1\ndatabase\t1\naccount\t10.0.0.11\t1\t1\naccount\tweird\\thost\t0\tNULL\n');
  assert.deepEqual(st, {
    passwordFile: true, database: true,
    accounts: [{ host: '10.0.0.11', password: true, granted: true }, { host: 'weird\thost', password: false, granted: false }],
  });
  assert.deepEqual(parseState('passwordfile\t0\ndatabase\t0\n'), empty);
});

test('describePlan names hosts and the file, in check mode as what would happen', () => {
  const plan = planDatabase(['10.0.0.11'], empty);
  assert.equal(describePlan(plan, '/etc/p', true), 'would generate a password into /etc/p, create the database, create accounts for 10.0.0.11');
  assert.equal(describePlan({ ...plan, writePasswordFile: false, createDatabase: false, create: [], drop: ['h'] }, '/etc/p', false), 'dropped accounts for h');
});

/**
 * The module end to end against a stand-in `mariadb` on PATH, run by the local sh: whatever the
 * client prints (here, the worst case: an error quoting the SQL, password included), the
 * password reaches no message and no -vv line.
 */
function localContext(dir: string, check: boolean, lines: string[]): ModuleContext {
  const env = { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` };
  return {
    hostName: 'db-1', facts: {} as ModuleContext['facts'], check, diff: true, loginUser: 'root',
    async exec(cmd, opts) {
      const r = spawnSync('sh', ['-c', toShell(cmd)], { encoding: 'utf8', env, input: opts?.stdin });
      const res = { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
      lines.push(`$ ${toShell(cmd)}`, res.stdout, res.stderr);
      return res;
    },
    async put(p, data, opts) {
      lines.push(`put ${p}`);
      writeFileSync(p, data, { mode: opts?.mode });
    },
    async get(p) {
      lines.push(`get ${p}`);
      try {
        return readFileSync(p);
      } catch (err) {
        throw failed(`db-1: get ${p} failed: ${(err as Error).message}`); // as the real connection reports it
      }
    },
    stat: () => Promise.reject(new Error('not used')),
    renderTemplate: () => Promise.reject(new Error('not used')),
    localPath: (p) => p,
    log: (line) => lines.push(line),
  };
}

function fakeMariadb(dir: string, body: string): void {
  writeFileSync(path.join(dir, 'bin', 'mariadb'), `#!/bin/sh\nsql=$(cat)\n${body}\n`, { mode: 0o755 });
  chmodSync(path.join(dir, 'bin', 'mariadb'), 0o755);
}

test('run: generates and stores the password, creates, and never shows the password', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-mariadb-'));
  try {
    spawnSync('mkdir', ['-p', `${dir}/bin`]);
    const file = `${dir}/etc/mariadb/shop.password`;
    const params = { name: 'shop', clients: ['10.0.0.11'], password_file: file };
    // The stand-in answers the state read with an empty server and logs what it was sent.
    fakeMariadb(dir, `printf '%s\\n' "$sql" >> ${dir}/sent.sql\ncase $sql in *"SELECT 'database'"*) printf 'database\\t0\\n';; esac`);

    const lines: string[] = [];
    const check = await mariadb_database.run(localContext(dir, true, lines), params);
    assert.equal(check.changed, true);
    assert.equal(check.data?.password, '');
    assert.match(check.msg!, /would generate a password into .*shop\.password, create the database, create accounts for 10\.0\.0\.11/);
    assert.equal(existsSync(file), false, 'check mode wrote nothing');

    const first = await mariadb_database.run(localContext(dir, false, lines), params);
    assert.equal(first.failed, undefined, first.msg);
    assert.equal(first.changed, true);
    const password = readFileSync(file, 'utf8');
    assert.match(password, /^[A-Za-z0-9]{32}$/);
    assert.equal(first.data?.password, password);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    const sent = readFileSync(`${dir}/sent.sql`, 'utf8');
    assert.match(sent, new RegExp(`CREATE USER 'shop'@'10\\.0\\.0\\.11' IDENTIFIED BY '${password}';`), 'the password went to the client on stdin');
    const shown = [...lines, first.msg, JSON.stringify(first.diff)].join('\n');
    assert.ok(!shown.includes(password), 'the password is in no command line, output, message or diff');

    // A client that fails quoting the SQL it was given: the message keeps the error, not the SQL.
    fakeMariadb(dir, `one=$(printf '%s' "$sql" | tr '\\n' ' ')\nprintf "ERROR 1064 (42000) at line 2: You have an error in your SQL syntax near '%s' at line 1\\n" "$one" >&2; exit 1`);
    const broken = await mariadb_database.run(localContext(dir, false, lines), params);
    assert.equal(broken.failed, true);
    assert.match(broken.msg!, /on db-1 failed: ERROR 1064 \(42000\) at line 2: You have an error in your SQL syntax$/);
    assert.ok(![...lines, broken.msg].join('\n').includes(password), 'no line of the failed run holds the password');

    fakeMariadb(dir, `echo "ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)" >&2; exit 1`);
    const down = await mariadb_database.run(localContext(dir, false, lines), params);
    assert.match(down.msg!, /mariadb is not running on db-1 .*service mariadb start/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run: a password file that cannot be used is reported, not replaced', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-mariadb-'));
  try {
    spawnSync('mkdir', ['-p', `${dir}/bin`, `${dir}/a-directory`]);
    fakeMariadb(dir, 'true');
    const lines: string[] = [];
    const dirAsFile = await mariadb_database.run(localContext(dir, false, lines), { name: 'shop', clients: ['db'], password_file: `${dir}/a-directory` });
    assert.equal(dirAsFile.failed, true);
    assert.match(dirAsFile.msg!, /cannot read the password file/);
    writeFileSync(`${dir}/empty.password`, '\n');
    const emptyFile = await mariadb_database.run(localContext(dir, false, lines), { name: 'shop', clients: ['db'], password_file: `${dir}/empty.password` });
    assert.match(emptyFile.msg!, /empty\.password on db-1 is empty: fix it, or remove it/);
    const badMask = await mariadb_database.run(localContext(dir, false, lines), { name: 'shop', clients: ['10.0.1.5/255.255.255.0'], password_file: `${dir}/p` });
    assert.match(badMask.msg!, /bits outside the netmask/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run: no mariadb client on the host is named as not installed; a check says what provision then configure would make', { skip: existsSync('/usr/bin/mariadb') && 'this machine has a mariadb client' }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-mariadb-'));
  const path0 = process.env.PATH;
  try {
    spawnSync('mkdir', ['-p', `${dir}/bin`]);
    process.env.PATH = '/usr/bin:/bin';
    const r = await mariadb_database.run(localContext(dir, false, []), { name: 'shop', clients: ['db'], password_file: `${dir}/p` });
    assert.equal(r.failed, true);
    assert.equal(r.msg, 'mariadb_database shop: mariadb is not installed on db-1 (no mariadb client): install mariadb-server there and start it (service mariadb start)');
    assert.equal(existsSync(`${dir}/p`), false, 'no password file was written');
    const check = await mariadb_database.run(localContext(dir, true, []), { name: 'shop', clients: ['db'], password_file: `${dir}/p` });
    assert.deepEqual([check.failed, check.changed, check.data?.password], [undefined, true, '']);
    assert.match(check.msg!, /would create the database, 1 account\(s\) and the password file \(MariaDB is not running on db-1 yet\)/);
  } finally {
    process.env.PATH = path0;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('normalizeClients: MariaDB stores host names lowercased', () => {
  assert.deepEqual(normalizeClients(['DB.Example', 'db.example', 'FE80::1', '10.0.0.1']), ['db.example', 'fe80::1', '10.0.0.1']);
});
