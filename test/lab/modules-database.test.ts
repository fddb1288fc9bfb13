/**
 * mariadb_database against a real MariaDB (Debian 12's 10.11) on the last lab server, over real
 * SSH. Every claim is checked on the host with the system ssh client and the mariadb client
 * there, not with Flight's code: the first run makes the database, the accounts, the grants and
 * the password file, and the app's user logs in with that password over TCP; a second run
 * changes nothing in two round trips; check mode changes nothing; a removed client loses its
 * account; a password or a privilege changed by hand is put back; -vv output never holds the
 * password; hostile clients are refused before anything runs; a stopped server is named.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { quote } from '../../src/command.js';
import type { Module } from '../../src/module-kit/contract.js';
import { checkArgs } from '../../src/runner/args.js';
import { createModuleContext } from '../../src/module-kit/context.js';
import { modules } from '../../modules/index.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { ModuleHost, type ModuleRunOptions } from '../support/module-host.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

/** Unique per run; the `_` also proves the grant's wildcard is escaped (see LOOKALIKE). */
const NAME = `flt_db_${process.pid}`;
/** What an unescaped `flt_db_N`.* grant would also cover: `_` matches any one character. */
const LOOKALIKE = `fltxdb_${process.pid}`;
const ROOT = `/tmp/flight-test-db-${process.pid}`;
const DIR = `${ROOT}/secrets`;
const FILE = `${DIR}/${NAME}.password`;
/**
 * Lab servers share the machine's network. A connection from the server to its own lab address
 * leaves from 127.0.0.1 (the loopback route's source address), so that is the client that logs in.
 */
const LOGIN_CLIENT = '127.0.0.1';
const CLIENTS = [LOGIN_CLIENT, '::1', '10.0.1.0/255.255.255.0', 'web-1.example.com'];
/** Lab servers start no daemons on install: MariaDB is configured, then started by hand. */
const INSTALL = 'command -v mariadbd >/dev/null || { apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq mariadb-server >/dev/null; }';

describe('mariadb_database (lab)', { skip }, () => {
  let server: LabServer;
  let host: ModuleHost;
  /** Whether this file started mariadb (and so stops it again). */
  let started = false;

  /** SQL as root over the unix socket, rows tab-separated. */
  const sql = async (statements: string) => (await onHost(server, `mariadb --batch --skip-column-names -e ${quote(statements)}`)).trim();
  const accounts = async () => (await sql(`SELECT Host FROM mysql.user WHERE User = '${NAME}' ORDER BY Host`)).split('\n').filter(Boolean);
  const filePassword = () => onHost(server, `cat ${FILE}`);
  /** Not SHOW DATABASES LIKE: its `_` would also match LOOKALIKE. */
  const databaseExists = async () => (await sql(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${NAME}'`)) === '1';
  /** Log in as the app's user over TCP to the server's own address; MYSQL_PWD keeps the password out of argv. */
  const login = (password: string, query = 'SELECT CURRENT_USER()') =>
    sshRun(server, `MYSQL_PWD=${quote(password)} mariadb --batch --skip-column-names -h ${server.address} -u ${NAME} ${NAME} -e ${quote(query)}`);

  const run = (params: object, opts?: ModuleRunOptions) => host.run('mariadb_database', params, opts);
  const spec = (clients = CLIENTS) => ({ name: NAME, clients, password_file: FILE });

  /** A no-change run: one get (the password), one read. */
  const assertUnchanged = (params: object) => host.assertUnchanged('mariadb_database', params, { execs: 2 });

  before(async () => {
    server = servers!.at(-1)!;
    // Bound to the server's own address before the first start: the stock 127.0.0.1:3306 is
    // shared by every lab server and the machine itself.
    await onHost(server, `mkdir -p /etc/mysql/mariadb.conf.d && printf '[mariadbd]\\nbind-address = %s\\n' ${server.address} > /etc/mysql/mariadb.conf.d/99-flight-lab.cnf`);
    await onHost(server, INSTALL);
    if ((await sshRun(server, 'mariadb-admin ping >/dev/null 2>&1')).code !== 0) {
      await onHost(server, 'service mariadb start >/dev/null');
      started = true;
    }
    host = await ModuleHost.open(server);
    await onHost(server, `rm -rf -- ${ROOT}`);
  });

  after(async () => {
    if (!server) return;
    await sshRun(server, [
      `mariadb -e ${quote(`DROP DATABASE IF EXISTS ${NAME}; DROP DATABASE IF EXISTS ${LOOKALIKE}`)}`,
      `mariadb -N -e ${quote(`SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = '${NAME}'`)} | mariadb`,
      started ? 'service mariadb stop >/dev/null' : 'true',
      `rm -rf -- ${ROOT}`,
      'true',
    ].join('; '));
    await host?.close();
  });

  it('check mode on a fresh server changes nothing and says a password would be generated', async () => {
    const check = await run(spec(), { check: true });
    assert.equal(check.result.failed, undefined, check.result.msg);
    assert.equal(check.result.changed, true);
    assert.equal(check.result.data?.password, '');
    assert.match(check.result.msg!, new RegExp(`would generate a password into ${FILE}, create the database, create accounts for ${LOGIN_CLIENT}, ::1, `));
    assert.equal((await sshRun(server, `test -e ${DIR}`)).code, 1, 'no directory, no file');
    assert.equal(await databaseExists(), false);
    assert.deepEqual(await accounts(), []);
  });

  it('first run: database, accounts with grants, the password file; the user logs in', async () => {
    const first = await run(spec());
    assert.equal(first.result.failed, undefined, first.result.msg);
    assert.equal(first.result.changed, true);
    assert.equal(first.execs, 5, 'get (missing), read, mkdir, put, rename + SQL');
    const password = await filePassword();
    assert.match(password, /^[A-Za-z0-9]{32}$/);
    assert.deepEqual(first.result.data, { password, database: NAME, user: NAME, clients: CLIENTS });
    assert.equal(await onHost(server, `stat -c '%a %U %G' ${FILE} ${DIR}`), '600 root root\n700 root root\n');
    assert.equal(await onHost(server, `ls -A ${DIR}`), `${NAME}.password\n`, 'no temp file left');

    assert.equal(await sql(`SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '${NAME}'`), 'utf8mb4\tutf8mb4_unicode_ci');
    assert.deepEqual(await accounts(), [...CLIENTS].sort());

    const ok = await login(password, `SELECT CURRENT_USER(); CREATE TABLE t (i INT); INSERT INTO t VALUES (1); DELETE FROM t; DROP TABLE t`);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), `${NAME}@${LOGIN_CLIENT}`);
    const wrong = await login('not-the-password');
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Access denied/);
    // The grant is for this database only: `_` is not a wildcard in it.
    await sql(`CREATE DATABASE ${LOOKALIKE}`);
    const other = await login(password, `USE ${LOOKALIKE}`);
    assert.notEqual(other.code, 0, 'no access to a look-alike database');
    assert.match(other.stderr, /Access denied/);
  });

  it('a second run changes nothing in two round trips, and check mode agrees', async () => {
    const again = await assertUnchanged(spec());
    assert.equal(again.data?.password, await filePassword());
    const check = await run(spec(), { check: true });
    assert.equal(check.result.changed, false, check.result.msg);
    assert.equal(check.result.data?.password, await filePassword(), 'check mode reports the stored password');
  });

  it('a client taken out of the list loses its account (check mode first)', async () => {
    const fewer = CLIENTS.filter((c) => c !== '10.0.1.0/255.255.255.0');
    const password = await filePassword();
    const check = await run(spec(fewer), { check: true });
    assert.equal(check.result.changed, true);
    assert.equal(check.result.msg, `mariadb_database ${NAME}: would drop accounts for 10.0.1.0/255.255.255.0`);
    assert.deepEqual(await accounts(), [...CLIENTS].sort(), 'check mode dropped nothing');
    const drop = await run(spec(fewer));
    assert.equal(drop.result.changed, true, drop.result.msg);
    assert.equal(drop.execs, 3);
    assert.deepEqual(await accounts(), [...fewer].sort());
    assert.equal(await filePassword(), password, 'the password stays');
    assert.equal(await databaseExists(), true, 'the database stays');
    await assertUnchanged(spec(fewer));
    // And back: a new client gets an account with the same password and the grant.
    assert.equal((await run(spec())).result.changed, true);
    assert.deepEqual(await accounts(), [...CLIENTS].sort());
    await assertUnchanged(spec());
  });

  it('a password or privilege changed by hand is put back', async () => {
    const password = await filePassword();
    await sql(`ALTER USER '${NAME}'@'${LOGIN_CLIENT}' IDENTIFIED BY 'tampered'; REVOKE DELETE ON \`flt\\_db\\_${process.pid}\`.* FROM '${NAME}'@'::1'`);
    assert.notEqual((await login(password)).code, 0, 'the tampered password is in force');

    const check = await run(spec(), { check: true });
    assert.equal(check.result.msg, `mariadb_database ${NAME}: would reset the password of ${LOGIN_CLIENT}, grant all privileges to ::1`);
    assert.equal((await login('tampered')).code, 0, 'check mode reset nothing');

    const fix = await run(spec());
    assert.equal(fix.result.changed, true, fix.result.msg);
    assert.equal(fix.execs, 3, 'get, read, one SQL batch');
    const back = await login(password);
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await sql(`SELECT Delete_priv FROM mysql.db WHERE User = '${NAME}' AND Host = '::1'`), 'Y');
    await assertUnchanged(spec());
  });

  it('at -vv the password appears in no command line, output or message', async () => {
    const lines: string[] = [];
    const log = (line: string) => lines.push(line);
    await sql(`ALTER USER '${NAME}'@'${LOGIN_CLIENT}' IDENTIFIED BY 'tampered'`);
    const fix = await run(spec(), { log });
    assert.equal(fix.result.changed, true, fix.result.msg);
    // A removed file: a new password, generated, stored and set on every account.
    const old = await filePassword();
    await onHost(server, `rm -f ${FILE}`);
    const fresh = await run(spec(), { log });
    assert.equal(fresh.result.changed, true, fresh.result.msg);
    assert.match(fresh.result.msg!, new RegExp(`generated a password into ${FILE}, reset the password of ${CLIENTS.join(', ')}`));
    const password = await filePassword();
    assert.notEqual(password, old);
    assert.equal((await login(password)).code, 0);
    assert.notEqual((await login(old)).code, 0, 'the old password is gone');
    await run(spec(), { log });

    const text = [...lines, fix.result.msg, fresh.result.msg].join('\n');
    assert.match(text, /\$ sh -c .*mariadb/s, 'the commands were logged');
    assert.match(text, new RegExp(`put ${DIR}/\\.${NAME}\\.password\\.flight-[0-9a-f]+ \\(32 bytes\\)`));
    for (const secret of [password, old]) assert.ok(!text.includes(secret), 'no password in the -vv output');
  });

  it('hostile clients and names are refused before anything runs', async () => {
    const mod = modules.mariadb_database as Module<any>;
    const start = host.execs;
    for (const client of [`x'; DROP DATABASE ${NAME}; --`, '-e', `${LOGIN_CLIENT}\n::1`, 'a\nb', '%', `'; SELECT 1; --`]) {
      assert.match(checkArgs(mod, spec([client])) ?? '', /clients\.0: must be an address MariaDB lets an app in from/, JSON.stringify(client));
      // Even past the schema (the module called directly), nothing reaches the host.
      const direct = await mod.run(createModuleContext({ conn: host.conn, facts: host.facts, vars: {} }), spec([client]));
      assert.equal(direct.failed, true);
    }
    assert.match(checkArgs(mod, { ...spec(), name: `x'; DROP DATABASE ${NAME}; --` }) ?? '', /name: must match pattern/);
    assert.match(checkArgs(mod, { ...spec(), name: '-e' }) ?? '', /name: must match pattern/);
    const direct = await mod.run(createModuleContext({ conn: host.conn, facts: host.facts, vars: {} }), { ...spec(), name: `x'; DROP DATABASE ${NAME}; --` });
    assert.equal(direct.failed, true);
    assert.equal(host.execs, start, 'not one round trip');
    assert.equal(await databaseExists(), true, 'the database is still there');
  });

  it('a stopped mariadb fails the task naming the host and what to do', { timeout: 120_000 }, async () => {
    await onHost(server, 'service mariadb stop >/dev/null');
    try {
      const down = await run(spec());
      assert.equal(down.result.failed, true);
      assert.match(down.result.msg!, new RegExp(`mariadb is not running on ${server.name} \\(ERROR 2002 .*\\): start it \\(service mariadb start\\)`));
    } finally {
      await onHost(server, 'service mariadb start >/dev/null');
    }
    await assertUnchanged(spec());
  });
});
