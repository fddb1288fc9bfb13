/**
 * env_file and `fetch env: true` against a real lab server over real SSH. Every claim about the
 * host is checked with the system ssh client, not with Flight's own code: the user's part and
 * Flight's block each survive a task that sets the other, the file is 0600 and owned as asked,
 * a run that changes nothing costs one round trip, check mode writes nothing, no value ever
 * reaches a message, a diff, registered data or a -vv log line, `env:pull`'s fetch gives back
 * exactly the user's part, and real PHP (phpdotenv, loaded as Laravel 8 does) sees the block win.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quote } from '../../src/command.js';
import { DOTENV_PHP, HOSTILE_VALUES } from '../support/dotenv.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { ModuleHost, type ModuleRunOptions } from '../support/module-host.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const TAG = `flight-test-env-${process.pid}`;
const ROOT = `/tmp/${TAG}`;
/** The app's shared folder, with a space so an unquoted path would break. */
const SHARED = `${ROOT}/shop shared`;
const ENV = `${SHARED}/.env`;

/** Values that must never be seen outside the file: each unique to this run. */
const nonce = randomBytes(4).toString('hex');
const USER_SECRET = `user-app-key-${nonce}`;
const PW1 = `flight-pw-one-${nonce}`;
const PW2 = `flight-pw-two-${nonce}`;
const HOST = `db-host-${nonce}`;

/** The block as the file must hold it, written out by hand rather than by Flight's code. */
const HEADER = '# >>> Flight: managed by `flight app:configure` (do not edit; these win over the same keys above)';
const blockText = (pw: string) => `${HEADER}\nDB_HOST="${HOST}"\nDB_PASSWORD="${pw}"\n# <<< Flight\n`;

describe('env_file and fetch env: true (lab)', { skip }, () => {
  let server: LabServer;
  let host: ModuleHost;
  let localDir: string;
  /** Every -vv line and every result of every run, searched for values at the end. */
  const seen: string[] = [];

  const q = quote;
  const statOf = async (p: string) => (await onHost(server, `stat -c '%a %U %G' -- ${q(p)}`)).trim();
  /** The file's exact bytes (a missing final newline included), as text. */
  const bytesOf = async (p: string) => Buffer.from((await onHost(server, `base64 -w0 -- ${q(p)}`)).trim(), 'base64').toString('utf8');
  const setFile = (p: string, text: string) =>
    onHost(server, `printf %s ${q(Buffer.from(text).toString('base64'))} | base64 -d > ${q(p)}`);

  /** Run a module with --diff, its -vv lines and result collected in `seen`. */
  const run = (name: string, params: object, opts?: ModuleRunOptions) => host.run(name, params, opts);
  const assertUnchanged = (name: string, params: object) => host.assertUnchanged(name, params);

  before(async () => {
    server = servers!.at(-1)!;
    localDir = mkdtempSync(path.join(os.tmpdir(), 'flight-env-'));
    host = await ModuleHost.open(server, { baseDir: localDir, defaults: { diff: true }, record: seen });
    await onHost(server, `rm -rf -- ${q(ROOT)} && mkdir -p -- ${q(SHARED)}`);
  });

  after(async () => {
    if (!server) return;
    await sshRun(server, `rm -rf -- ${q(ROOT)}`);
    await host?.close();
    if (localDir) rmSync(localDir, { recursive: true, force: true });
  });

  it('content, then managed, then content again: each task keeps the other part', async () => {
    const userA = `APP_NAME=shop\r\nAPP_KEY=${USER_SECRET}`; // CRLF, no final newline
    const owned = { path: ENV, owner: 'nobody', group: 'nogroup' };

    const created = await run('env_file', { ...owned, content: userA });
    assert.equal(created.result.changed, true, created.result.msg);
    assert.equal(created.execs, 3, 'a missing file: the get fails, a stat says it is missing, one atomic write');
    assert.equal(created.result.msg, `${ENV}: created`);
    assert.equal(await bytesOf(ENV), userA, 'no block: the file is the user part exactly');
    assert.equal(await statOf(ENV), '600 nobody nogroup');
    await assertUnchanged('env_file', { ...owned, content: userA });

    const managed = { ...owned, managed: { DB_PASSWORD: PW1, DB_HOST: HOST } };
    const withBlock = await run('env_file', managed);
    assert.equal(withBlock.result.changed, true, withBlock.result.msg);
    assert.equal(withBlock.execs, 2, 'one get, one atomic write');
    assert.equal(withBlock.result.msg, `${ENV}: Flight keys added: DB_HOST, DB_PASSWORD`);
    assert.equal(await bytesOf(ENV), `${userA}\n${blockText(PW1)}`, 'user part kept, a newline before the block');
    assert.deepEqual(withBlock.result.diff, [{
      path: ENV,
      before: '(user part hidden)\n',
      after: '(user part hidden)\n# >>> Flight\nDB_HOST=(hidden)\nDB_PASSWORD=(hidden)\n# <<< Flight\n',
    }]);
    await assertUnchanged('env_file', managed);

    // The user part from a local file (as env:push sends it): the block stays.
    const userB = `APP_NAME=shop\nAPP_KEY=${USER_SECRET}-2\n`;
    writeFileSync(path.join(localDir, 'shop.env'), userB);
    const pushed = await run('env_file', { ...owned, src: 'shop.env' });
    assert.equal(pushed.result.changed, true, pushed.result.msg);
    assert.equal(pushed.result.msg, `${ENV}: user part changed`);
    assert.equal(await bytesOf(ENV), `${userB}\n${blockText(PW1)}`);
    await assertUnchanged('env_file', { ...owned, src: 'shop.env' });
    await assertUnchanged('env_file', managed);

    // Check mode: says what would change, reads once, writes nothing.
    const check = await run('env_file', { ...owned, content: 'APP_NAME=other\n', managed: { DB_PASSWORD: PW2, DB_HOST: HOST } }, { check: true });
    assert.equal(check.result.changed, true);
    assert.equal(check.execs, 1, 'check mode only reads');
    assert.equal(check.result.msg, `${ENV}: would be written (user part changed, Flight keys changed: DB_PASSWORD)`);
    assert.equal(await bytesOf(ENV), `${userB}\n${blockText(PW1)}`, 'check mode wrote nothing');

    // A new password: only the block changes, and the file's mode and owner are put right.
    await onHost(server, `chmod 0644 -- ${q(ENV)} && chown root:root -- ${q(ENV)}`);
    const rotated = await run('env_file', { ...managed, managed: { DB_PASSWORD: PW2, DB_HOST: HOST } });
    assert.equal(rotated.result.msg, `${ENV}: Flight keys changed: DB_PASSWORD`);
    assert.equal(await bytesOf(ENV), `${userB}\n${blockText(PW2)}`);
    assert.equal(await statOf(ENV), '600 nobody nogroup');
    assert.equal((await onHost(server, `ls -A -- ${q(SHARED)}`)).trim(), '.env', 'no temp file left behind');

    // managed: {} removes the block and gives the user part back alone, byte for byte.
    const removed = await run('env_file', { ...owned, managed: {} });
    assert.equal(removed.result.msg, `${ENV}: Flight keys removed: DB_HOST, DB_PASSWORD`);
    assert.equal(await bytesOf(ENV), userB);
  });

  it('fails without writing: both sources, bad keys and values, a missing folder, an unreadable file', async () => {
    const before = await bytesOf(ENV);
    const both = await run('env_file', { path: ENV, content: 'A=1\n', src: 'shop.env' });
    assert.match(both.result.msg!, /src or content, not both/);
    const badKey = await run('env_file', { path: ENV, managed: { 'db-host': HOST } });
    assert.match(badKey.result.msg!, /managed key "db-host" is not a valid name/);
    assert.equal(badKey.execs, 0, 'refused before asking the host anything');
    const badValue = await run('env_file', { path: ENV, managed: { DB_PASSWORD: `${PW1}\nINJECTED=1` } });
    assert.match(badValue.result.msg!, /managed key DB_PASSWORD: the value contains a line break/);
    const pulledWhole = await run('env_file', { path: ENV, content: `A=1\n${blockText(PW1)}` });
    assert.match(pulledWhole.result.msg!, /ends with a Flight block/);
    assert.equal(await bytesOf(ENV), before);

    const nowhere = `${ROOT}/no such folder/.env`;
    const noParent = await run('env_file', { path: nowhere, content: 'A=1\n' });
    assert.equal(noParent.result.failed, true);
    assert.match(noParent.result.msg!, /parent directory .* does not exist/);
    const pending = await run('env_file', { path: nowhere, content: 'A=1\n' }, { check: true });
    assert.equal(pending.result.changed, true, 'check mode: the folder may come from an earlier task');

    // A file the task's user cannot read is not taken for an empty one (that would drop a part).
    const locked = `${ROOT}/locked.env`;
    await setFile(locked, `APP_KEY=${USER_SECRET}\n`);
    await onHost(server, `chmod 0600 -- ${q(locked)}`);
    const denied = await run('env_file', { path: locked, managed: { DB_PASSWORD: PW1 } }, { become: 'nobody' });
    assert.equal(denied.result.failed, true);
    assert.match(denied.result.msg!, /cannot read .*Permission denied/);
    assert.equal(await bytesOf(locked), `APP_KEY=${USER_SECRET}\n`);
  });

  it('fetch env: true gives back exactly the user part', async () => {
    const user = `APP_NAME=shop\r\nAPP_KEY=${USER_SECRET}`; // CRLF, no final newline
    await run('env_file', { path: ENV, content: user, managed: { DB_PASSWORD: PW1, DB_HOST: HOST } });
    assert.equal(await bytesOf(ENV), `${user}\n${blockText(PW1)}`);

    const pull = { src: ENV, dest: 'pulled/shop.env', env: true };
    const local = path.join(localDir, 'pulled/shop.env');
    const first = await run('fetch', pull);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 1, 'one get: the file is split locally');
    assert.equal(readFileSync(local, 'latin1'), user);
    assert.equal(statSync(local).mode & 0o777, 0o600);
    await assertUnchanged('fetch', pull);

    // A new password changes nothing the pull returns.
    await run('env_file', { path: ENV, managed: { DB_PASSWORD: PW2, DB_HOST: HOST } });
    await assertUnchanged('fetch', pull);

    // Check mode reports, writes nothing.
    await run('env_file', { path: ENV, content: 'APP_NAME=new\n' });
    const check = await run('fetch', pull, { check: true });
    assert.equal(check.result.changed, true);
    assert.equal(readFileSync(local, 'latin1'), user);
    assert.equal((await run('fetch', pull)).result.changed, true);
    assert.equal(readFileSync(local, 'latin1'), 'APP_NAME=new\n');

    // Without env: the whole file, block included (fetch as it was).
    const whole = await run('fetch', { src: ENV, dest: 'whole.env' });
    assert.equal(whole.result.changed, true, whole.result.msg);
    assert.equal(readFileSync(path.join(localDir, 'whole.env'), 'latin1'), `APP_NAME=new\n\n${blockText(PW2)}`);

    const missing = await run('fetch', { src: `${ROOT}/nope.env`, dest: 'nope.env', env: true });
    assert.equal(missing.result.failed, true);
    assert.match(missing.result.msg!, /cannot read .*No such file/);
  });

  it('PHP on the server (phpdotenv, loaded as Laravel 8 does) reads the block back exactly, and the block wins', { timeout: 600_000 }, async () => {
    // Installed once per server; the lock timeout waits for a parallel apt run.
    await onHost(server, '[ -e /usr/share/php/Dotenv/autoload.php ] && command -v php >/dev/null || { apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq php8.2-cli php-vlucas-phpdotenv >/dev/null; }');
    // The user part sets keys the block sets too, and ends without a newline.
    const user = `APP_NAME=shop\r\nDB_PASSWORD=from-user\r\nDB_HOST="user-host"\r\nDB_PORT=1`;
    const r = await run('env_file', { path: ENV, content: user, managed: HOSTILE_VALUES });
    assert.equal(r.result.failed, undefined, r.result.msg);
    const keys = ['APP_NAME', ...Object.keys(HOSTILE_VALUES)];
    const out = await onHost(server, `php -r ${q(DOTENV_PHP)} -- ${q(SHARED)} .env ${q(JSON.stringify(keys))}`);
    assert.deepEqual(JSON.parse(out), { APP_NAME: 'shop', ...HOSTILE_VALUES });
  });

  it('no value reached a message, a diff, registered data or a -vv log line', () => {
    assert.ok(seen.some((l) => l.startsWith(`get ${ENV}`)), 'the log was collected');
    const values = [USER_SECRET, PW1, PW2, HOST, ...Object.values(HOSTILE_VALUES).filter((v) => v.trim().length > 3)];
    for (const line of seen) for (const v of values) assert.ok(!line.includes(v), `a value in: ${line}`);
  });
});
