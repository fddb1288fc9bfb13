/**
 * The system modules (command, shell, user, service_reload, unarchive, fetch, apt) against a real
 * lab server over real SSH. Every claim is checked on the host with the system ssh client, not
 * with Flight's own code: the first run changes and the state is right, a second run changes
 * nothing in exactly one exec, check mode reports the change and leaves the host untouched, and
 * hostile values (quotes, `$(...)`, `;`, newlines) reach the program intact.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quote } from '../../src/command.js';
import { checkArgs } from '../../src/runner/args.js';
import { modules } from '../../modules/index.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { ModuleHost, type ModuleRunOptions } from '../support/module-host.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

/** Everything this file creates lives under ROOT or carries TAG, to stay clear of parallel tests. */
const TAG = `flight-test-sys-${process.pid}`;
const ROOT = `/tmp/${TAG}`;
const PWNED = `${ROOT}/pwned`;
/** Would run `touch PWNED` if anything glued it into a shell line unquoted. */
const HOSTILE = `it's "quoted" $(touch ${PWNED}) \`touch ${PWNED}\`; touch ${PWNED}\nsecond line & more`;
const USER = 'flighttest-sys1';
const GROUP = 'flighttest-sysg';
const SERVICE = TAG;
const REPO_PACKAGE = 'flight-test-sys-hello';
/** Other tests install packages on the same servers: wait for the dpkg lock rather than fail. */
const PURGE = 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=600';

describe('system modules (lab)', { skip }, () => {
  let server: LabServer;
  let host: ModuleHost;
  let localDir: string;

  const q = quote;
  const exists = async (p: string) => (await sshRun(server, `test -e ${q(p)}`)).code === 0;
  const statOf = async (p: string) => (await onHost(server, `stat -c '%F %a %U %G' -- ${q(p)}`)).trim();
  const noInjection = async () => assert.equal(await exists(PWNED), false, 'nothing was injected');

  /** Validate like the runner does (defaults filled), run through a fresh context, count round trips. */
  const run = (name: string, params: object, opts?: ModuleRunOptions) => host.run(name, params, opts);
  const assertUnchanged = (name: string, params: object) => host.assertUnchanged(name, params);

  before(async () => {
    server = servers![1] ?? servers![0]!;
    localDir = mkdtempSync(path.join(os.tmpdir(), 'flight-sys-'));
    host = await ModuleHost.open(server, { baseDir: localDir });
    await onHost(server, `rm -rf -- ${q(ROOT)} && mkdir -p -- ${q(ROOT)}`);
  });

  after(async () => {
    if (!server) return;
    await sshRun(server, [
      `[ -x /etc/init.d/${SERVICE} ] && /etc/init.d/${SERVICE} stop`,
      `rm -f /etc/init.d/${SERVICE} /etc/init.d/${SERVICE}-dead`,
      `userdel -r ${USER} 2>/dev/null; groupdel ${GROUP} 2>/dev/null`,
      `rm -f /etc/apt/sources.list.d/${TAG}*.sources /etc/apt/keyrings/${TAG}*`,
      `rm -f /var/lib/apt/lists/*${TAG}*`,
      `dpkg -s ${REPO_PACKAGE} >/dev/null 2>&1 && ${PURGE} ${REPO_PACKAGE}`,
      `rm -rf -- ${q(ROOT)}`,
      'true',
    ].join('; '));
    await host?.close();
    if (localDir) rmSync(localDir, { recursive: true, force: true });
  });

  it('command: argv reaches the program intact; creates/removes; check mode; failures', async () => {
    const r = await run('command', { argv: ['printf', '%s', HOSTILE] });
    assert.equal(r.result.changed, true);
    assert.equal(r.execs, 1);
    assert.equal(r.result.data?.stdout, HOSTILE);
    assert.equal(r.result.data?.rc, 0);
    await noInjection();

    // cmd: a string split by shell quoting rules, without a shell.
    const split = await run('command', { cmd: `printf '%s|' 'a b' "c'd" e\\ f '$(id)'` });
    assert.equal(split.result.data?.stdout, `a b|c'd|e f|$(id)|`);
    const piped = await run('command', { cmd: 'cat /etc/hostname | wc -l' });
    assert.equal(piped.result.failed, true);
    assert.match(piped.result.msg!, /'\|'.*shell module/);
    assert.equal(piped.execs, 0);

    // creates: first run runs, second skips in one exec; check mode touches nothing.
    const marker = `${ROOT}/cmd made it`;
    const task = { argv: ['touch', marker], creates: marker };
    const check = await run('command', task, { check: true });
    assert.equal(check.result.changed, true);
    assert.match(check.result.msg!, /would run/);
    assert.equal(await exists(marker), false, 'check mode ran nothing');
    const first = await run('command', task);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(await exists(marker), true);
    const second = await assertUnchanged('command', task);
    assert.equal(second.skipped, true);
    assert.match(second.msg!, /exists/);
    const checkSkip = await run('command', task, { check: true });
    assert.equal(checkSkip.result.changed, false, 'check mode knows creates would skip');

    // removes
    const rm = { argv: ['rm', marker], removes: marker };
    assert.equal((await run('command', rm, { check: true })).result.changed, true);
    assert.equal(await exists(marker), true, 'check mode removed nothing');
    assert.equal((await run('command', rm)).result.changed, true);
    assert.equal(await exists(marker), false);
    assert.equal((await run('command', rm)).result.skipped, true);

    // chdir, env and stdin, all with hostile values.
    const dir = `${ROOT}/dir with 'quote' and $(x)`;
    await onHost(server, `mkdir -p -- ${q(dir)}`);
    const env = await run('command', {
      argv: ['sh', '-c', 'pwd; printf "%s" "$V"; printf "|"; cat'],
      chdir: dir,
      env: { V: HOSTILE },
      stdin: `${HOSTILE}\n`,
    });
    assert.equal(env.result.data?.stdout, `${dir}\n${HOSTILE}|${HOSTILE}`, 'registered stdout drops the final newline');
    const noDir = await run('command', { argv: ['true'], chdir: `${ROOT}/no such dir` });
    assert.equal(noDir.result.failed, true);
    assert.match(noDir.result.msg!, /chdir: cannot enter/);

    // A failing program: failed, rc and the end of stderr in the message.
    const fail = await run('command', { argv: ['sh', '-c', 'echo first >&2; echo "last words" >&2; exit 3'] });
    assert.equal(fail.result.failed, true);
    assert.equal(fail.result.data?.rc, 3);
    assert.match(fail.result.msg!, /^rc=3: .*last words/);
    // log: the command line and its output are appended on the host, and still registered.
    const logFile = `${ROOT}/release.log`;
    const logged = await run('command', { argv: ['printf', '%s\n', HOSTILE], log: logFile });
    assert.equal(logged.result.data?.stdout, HOSTILE);
    assert.equal(await onHost(server, `cat -- ${q(logFile)}`), `$ printf %s\n ${HOSTILE}\n${HOSTILE}\n`);
    const notFound = await run('command', { argv: ['flight-no-such-program'] });
    assert.equal(notFound.result.data?.rc, 127);
    await noInjection();
  });

  it('command: become_user runs as that user, with its HOME', async () => {
    const r = await run('command', { argv: ['sh', '-c', 'id -un; echo "$HOME"'], become_user: 'nobody' });
    assert.equal(r.result.failed, undefined, r.result.msg);
    assert.equal(r.result.data?.stdout, 'nobody\n/nonexistent');
    // The task-level become applies when the module does not say otherwise.
    const task = await run('command', { argv: ['id', '-un'] }, { become: 'nobody' });
    assert.equal(task.result.data?.stdout, 'nobody');
    // creates is checked as that user too (nobody cannot see into a 0700 directory).
    await onHost(server, `mkdir -p -m 0700 ${ROOT}/private && touch ${ROOT}/private/x`);
    const hidden = await run('command', { argv: ['true'], creates: `${ROOT}/private/x`, become_user: 'nobody' });
    assert.equal(hidden.result.skipped, undefined, 'nobody cannot see the file, so the command runs');
  });

  it('command: nice runs the program below the services\' CPU and IO priority, as an unprivileged user too', async () => {
    // The session's scheduling group counts too: the CPU is shared between sessions first.
    const probe = ['sh', '-c', 'echo "$(nice) $(ionice) $(sed "s/.* nice //" /proc/self/autogroup)"'];
    const plain = await run('command', { argv: probe, become_user: 'nobody' });
    assert.equal(plain.result.data?.stdout, '0 none: prio 0 0', 'without nice: the default priorities');
    const low = await run('command', { argv: probe, become_user: 'nobody', nice: 10 });
    assert.equal(low.result.failed, undefined, low.result.msg);
    assert.equal(low.result.data?.stdout, '10 best-effort: prio 7 10');
  });

  it('shell: pipes, env for values, creates, check mode, executable', async () => {
    const pipe = await run('shell', { cmd: 'printf "a\\nb\\nc\\n" | wc -l' });
    assert.equal(String(pipe.result.data?.stdout).trim(), '3');

    const file = `${ROOT}/shell out`;
    const task = { cmd: 'printf "%s" "$V" > "$F"', env: { V: HOSTILE, F: file }, creates: file };
    const check = await run('shell', task, { check: true });
    assert.equal(check.result.changed, true);
    assert.equal(await exists(file), false, 'check mode wrote nothing');
    const first = await run('shell', task);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(await onHost(server, `cat -- ${q(file)}`), HOSTILE);
    await assertUnchanged('shell', task);
    await noInjection();

    const bash = await run('shell', { cmd: 'set -o pipefail; false | true', executable: '/bin/bash' });
    assert.equal(bash.result.failed, true);
    assert.equal(bash.result.data?.rc, 1);
    const plain = await run('shell', { cmd: 'false | true' });
    assert.equal(plain.result.failed, undefined);
  });

  it('user: create, no change, modify (groups appended), check mode, bad group', async () => {
    await onHost(server, `userdel -r ${USER} 2>/dev/null; groupdel ${GROUP} 2>/dev/null; groupadd ${GROUP}`);
    const home = `${ROOT}/home ${USER}`.replace(/ /g, '-');
    const spec = { name: USER, system: true, home, shell: '/bin/sh', groups: [GROUP], home_mode: '0750' };

    const check = await run('user', spec, { check: true });
    assert.equal(check.result.changed, true);
    assert.match(check.result.msg!, /would create user/);
    assert.equal((await sshRun(server, `getent passwd ${USER}`)).code, 2, 'check mode created nobody');

    const first = await run('user', spec);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 2, 'one read, one change');
    const pw = (await onHost(server, `getent passwd ${USER}`)).trim().split(':');
    assert.equal(pw[5], home);
    assert.equal(pw[6], '/bin/sh');
    assert.ok(Number(pw[2]) < 1000, `system uid, got ${pw[2]}`);
    assert.match(await onHost(server, `id -Gn ${USER}`), new RegExp(`\\b${GROUP}\\b`));
    assert.equal(await statOf(home), `directory 750 ${USER} ${USER}`);
    await assertUnchanged('user', spec);

    // Another group added by hand stays: groups are only ever appended.
    await onHost(server, `usermod -a -G nogroup ${USER}`);
    const change = { ...spec, shell: '/bin/bash', home_mode: '0700' };
    const checkChange = await run('user', change, { check: true });
    assert.equal(checkChange.result.changed, true);
    assert.match(checkChange.result.msg!, /shell \/bin\/sh -> \/bin\/bash.*home mode 0750 -> 0700/);
    assert.equal((await onHost(server, `getent passwd ${USER}`)).trim().split(':')[6], '/bin/sh', 'check mode changed nothing');
    const changed = await run('user', change);
    assert.equal(changed.result.changed, true, changed.result.msg);
    assert.equal((await onHost(server, `getent passwd ${USER}`)).trim().split(':')[6], '/bin/bash');
    assert.equal(await statOf(home), `directory 700 ${USER} ${USER}`);
    assert.match(await onHost(server, `id -Gn ${USER}`), /\bnogroup\b/, 'a group added elsewhere is kept');
    await assertUnchanged('user', change);

    const bad = await run('user', { name: USER, groups: [GROUP, 'flight-no-such-group'] });
    assert.equal(bad.result.failed, true);
    assert.match(bad.result.msg!, /group flight-no-such-group does not exist/);
    assert.notEqual(checkArgs(modules.user!, { name: 'Bad Name' }), undefined, 'invalid names are refused before anything runs');
  });

  it('service_reload: started/stopped idempotent, reload starts a stopped service, config test refuses', async () => {
    assert.equal(host.facts.initSystem, 'sysv', 'the lab has no systemd: service(8) is used');
    // A small LSB-style service of our own, so no other test's service is touched. Its log
    // tells which action ran; its pid tells restart from reload.
    const init = `#!/bin/sh
PIDF=${ROOT}/svc.pid
LOG=${ROOT}/svc.log
running() { [ -f $PIDF ] && kill -0 "$(cat $PIDF)" 2>/dev/null; }
case "$1" in
  start) running || { sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $PIDF; }; echo start >> $LOG ;;
  stop) running && kill "$(cat $PIDF)"; rm -f $PIDF; echo stop >> $LOG ;;
  restart) "$0" stop >/dev/null; "$0" start >/dev/null; echo restart >> $LOG ;;
  reload) running || exit 7; echo reload >> $LOG ;;
  status) running ;;
  *) exit 2 ;;
esac
`;
    await onHost(server, `cat > /etc/init.d/${SERVICE} <<'EOF'\n${init}EOF\nchmod 755 /etc/init.d/${SERVICE}`);
    const log = async () => (await sshRun(server, `cat ${ROOT}/svc.log`)).stdout.trim().split('\n').filter(Boolean);
    const running = async () => (await sshRun(server, `service ${SERVICE} status`)).code === 0;
    const pid = async () => (await onHost(server, `cat ${ROOT}/svc.pid`)).trim();

    const start = { name: SERVICE, state: 'started' };
    const check = await run('service_reload', start, { check: true });
    assert.equal(check.result.changed, true);
    assert.match(check.result.msg!, /would start/);
    assert.equal(await running(), false, 'check mode started nothing');
    const first = await run('service_reload', start);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 1, 'read, act and verify in one round trip');
    assert.equal(await running(), true);
    await assertUnchanged('service_reload', start);

    const pid1 = await pid();
    const reload = await run('service_reload', { name: SERVICE, state: 'reloaded' });
    assert.equal(reload.result.changed, true, reload.result.msg);
    assert.deepEqual(await log(), ['start', 'reload']);
    assert.equal(await pid(), pid1, 'a reload keeps the process');
    const restart = await run('service_reload', { name: SERVICE, state: 'restarted' });
    assert.equal(restart.result.changed, true, restart.result.msg);
    assert.notEqual(await pid(), pid1, 'a restart replaces the process');

    // A failing configuration test refuses the reload and leaves the service as it was.
    const tested = { name: SERVICE, state: 'reloaded', test: ['test', '-e', `${ROOT}/config ok`] };
    const before = (await log()).length;
    const refused = await run('service_reload', tested);
    assert.equal(refused.result.failed, true);
    assert.equal(refused.result.changed, false);
    assert.match(refused.result.msg!, /configuration test failed/);
    assert.equal((await log()).length, before, 'nothing was run after the failed test');
    assert.equal(await running(), true);
    await onHost(server, `touch ${q(`${ROOT}/config ok`)}`);
    assert.equal((await run('service_reload', tested)).result.changed, true);
    assert.equal((await log()).at(-1), 'reload');

    const stop = { name: SERVICE, state: 'stopped' };
    assert.equal((await run('service_reload', stop, { check: true })).result.changed, true);
    assert.equal(await running(), true, 'check mode stopped nothing');
    assert.equal((await run('service_reload', stop)).result.changed, true);
    assert.equal(await running(), false);
    await assertUnchanged('service_reload', stop);

    // reloaded on a stopped service starts it (a reload of nothing would leave it down).
    const revive = await run('service_reload', { name: SERVICE, state: 'reloaded' });
    assert.equal(revive.result.changed, true);
    assert.match(revive.result.msg!, /started .*was not running/);
    assert.equal(await running(), true);
    assert.equal((await log()).at(-1), 'start');

    const missing = await run('service_reload', { name: `${SERVICE}-missing`, state: 'started' });
    assert.equal(missing.result.failed, true);
    assert.match(missing.result.msg!, /not found/);
    await onHost(server, `/etc/init.d/${SERVICE} stop >/dev/null`);

    // An init script that says it started a daemon that is not running is reported, not believed.
    await onHost(server, `printf '#!/bin/sh\\ncase "$1" in status) exit 3;; *) exit 0;; esac\\n' > /etc/init.d/${SERVICE}-dead && chmod 755 /etc/init.d/${SERVICE}-dead`);
    const dead = await run('service_reload', { name: `${SERVICE}-dead`, state: 'started' });
    assert.equal(dead.result.failed, true);
    assert.match(dead.result.msg!, /returned, but the service is not running/);
  });

  it('service_reload: php-fpm -t, the default test for php-fpm, catches a broken config', async (t) => {
    const php = host.facts.php.at(-1);
    if (!php || (await sshRun(server, `command -v php-fpm${php}`)).code !== 0) {
      t.skip('php-fpm is not installed on this server');
      return;
    }
    // Only the test command is exercised (on a config file of our own): the real php-fpm may be
    // serving another test right now and must not be reloaded from here.
    await onHost(server, `printf '[global]\\nerror_log = /dev/null\\n[www]\\nlisten = 127.0.0.9:1\\npm = nonsense\\n' > ${ROOT}/fpm.conf`);
    const broken = await run('service_reload', { name: SERVICE, state: 'reloaded', test: [`php-fpm${php}`, '-t', '-y', `${ROOT}/fpm.conf`] });
    assert.equal(broken.result.failed, true);
    assert.match(broken.result.msg!, /configuration test failed/);
  });

  it('unarchive: streams a tarball with spaces in its paths, owner and mode, creates, check mode', async () => {
    const src = path.join(localDir, 'build dir');
    mkdirSync(path.join(src, 'top dir', 'sub dir'), { recursive: true });
    writeFileSync(path.join(src, 'top dir', 'sub dir', "file 'one'.txt"), 'one\n');
    writeFileSync(path.join(src, 'top dir', 'run.sh'), '#!/bin/sh\n');
    chmodSync(path.join(src, 'top dir', 'run.sh'), 0o755);
    const tarball = path.join(localDir, 'release one.tar.gz');
    execFileSync('tar', ['-czf', tarball, '-C', src, 'top dir']);

    const dest = `${ROOT}/un archive/$(touch ${PWNED}) dest`;
    const created = `${dest}/top dir/sub dir/file 'one'.txt`;
    const task = { src: 'release one.tar.gz', dest, creates: created, owner: 'nobody', group: 'nogroup', mode: '0750' };
    const check = await run('unarchive', task, { check: true });
    assert.equal(check.result.changed, true);
    assert.match(check.result.msg!, /would extract/);
    assert.equal(await exists(dest), false, 'check mode created nothing');

    const first = await run('unarchive', task);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 2, 'one read (creates), one upload-and-extract');
    assert.equal(await onHost(server, `cat -- ${q(created)}`), 'one\n');
    assert.equal(await statOf(dest), 'directory 750 nobody nogroup');
    assert.equal(await statOf(created), 'regular file 644 nobody nogroup');
    assert.equal(await statOf(`${dest}/top dir/run.sh`), 'regular file 755 nobody nogroup');
    assert.equal(await statOf(`${dest}/top dir`), 'directory 755 nobody nogroup');
    const second = await assertUnchanged('unarchive', task);
    assert.equal(second.skipped, true);
    await noInjection();

    // Without creates: one round trip, always a change; extra_opts reach tar; no owner keeps root
    // (never the archive's own uid).
    const flat = `${ROOT}/flat`;
    const plain = await run('unarchive', { src: tarball, dest: flat, extra_opts: ['--strip-components=1'] });
    assert.equal(plain.result.changed, true, plain.result.msg);
    assert.equal(plain.execs, 1);
    assert.equal(await statOf(`${flat}/sub dir/file 'one'.txt`), 'regular file 644 root root');

    const missing = await run('unarchive', { src: 'nope.tar.gz', dest: flat });
    assert.equal(missing.result.failed, true);
    assert.match(missing.result.msg!, /cannot read .*ENOENT/);
    const broken = path.join(localDir, 'broken.tar.gz');
    writeFileSync(broken, 'not a tarball');
    const bad = await run('unarchive', { src: broken, dest: flat });
    assert.equal(bad.result.failed, true);
    assert.match(bad.result.msg!, /failed/);
  });

  it('fetch: copies only when different, sets the local mode, never shows content', async () => {
    const secret = `APP_KEY=base64:${HOSTILE}\n`;
    const remote = `${ROOT}/shared/.env`;
    await onHost(server, `mkdir -p ${ROOT}/shared && printf '%s' ${q(secret)} > ${q(remote)}`);
    const task = { src: remote, dest: 'pulled/app.env' };
    const local = path.join(localDir, 'pulled', 'app.env');

    const check = await run('fetch', task, { check: true });
    assert.equal(check.result.changed, true);
    assert.throws(() => statSync(local), 'check mode wrote nothing locally');
    const first = await run('fetch', task);
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 2, 'checksum, then the bytes');
    assert.equal(readFileSync(local, 'utf8'), secret);
    assert.equal(statSync(local).mode & 0o777, 0o600, 'fetched files are private by default');
    assert.ok(!JSON.stringify(first.result).includes('APP_KEY'), 'content never in the result');
    await assertUnchanged('fetch', task);

    // Mode only: no transfer.
    const open = await run('fetch', { ...task, mode: '0640' });
    assert.equal(open.result.changed, true);
    assert.equal(open.execs, 1);
    assert.equal(statSync(local).mode & 0o777, 0o640);

    // Remote changed: check mode leaves the local copy alone; a real run replaces it.
    await onHost(server, `echo EXTRA=1 >> ${q(remote)}`);
    assert.equal((await run('fetch', task, { check: true })).result.changed, true);
    assert.equal(readFileSync(local, 'utf8'), secret, 'check mode left the local file');
    assert.equal((await run('fetch', task)).result.changed, true);
    assert.equal(readFileSync(local, 'utf8'), `${secret}EXTRA=1\n`);

    const missing = await run('fetch', { src: `${ROOT}/nope`, dest: 'x' });
    assert.equal(missing.result.failed, true);
    assert.match(missing.result.msg!, /does not exist/);
  });

  it('apt: installs with a cache window, no change on re-run, check mode, unknown packages', { timeout: 600_000 }, async () => {
    await onHost(server, `for p in tree ed; do dpkg -s $p >/dev/null 2>&1 && ${PURGE} $p >/dev/null; done; true`);
    const installed = async (pkg: string) => (await sshRun(server, `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null | grep -q ' installed$'`)).code === 0;
    const task = { name: 'tree', update_cache: true, cache_valid_time: 3600 };

    const check = await run('apt', task, { check: true });
    assert.equal(check.result.changed, true, check.result.msg);
    assert.match(check.result.msg!, /would .*install tree/);
    assert.equal(await installed('tree'), false, 'check mode installed nothing');

    const first = await run('apt', task);
    assert.equal(first.result.failed, undefined, first.result.msg);
    assert.equal(first.result.changed, true);
    assert.deepEqual(first.result.data?.installed, ['tree']);
    assert.equal(await installed('tree'), true);
    assert.equal((await onHost(server, 'tree --version')).startsWith('tree v'), true);
    // Inside the window: the lists are not refreshed again.
    const listsTime = () => onHost(server, 'stat -c %Y /var/lib/apt/lists /var/lib/apt/periodic/update-success-stamp 2>/dev/null; true');
    const stamp = await listsTime();
    await assertUnchanged('apt', task);
    await assertUnchanged('apt', { name: ['tree'], install_recommends: false });
    assert.equal(await listsTime(), stamp);

    // A name apt cannot find fails the task, named, and nothing else gets installed.
    const unknown = await run('apt', { name: ['tree', 'ed', 'flight-no-such-package'] });
    assert.equal(unknown.result.failed, true);
    assert.equal(unknown.result.msg, 'package not found in the apt sources: flight-no-such-package (nothing installed)');
    assert.equal(await installed('ed'), false, 'ed was not installed alongside');
    const checkUnknown = await run('apt', { name: 'flight-no-such-package' }, { check: true });
    assert.equal(checkUnknown.result.failed, true, 'check mode names it too');
  });

  it('apt: a signed local repository as a deb822 source with its own key', { timeout: 600_000 }, async () => {
    // Build a tiny package and a flat repository, signed with a throwaway key, on the control
    // machine (the lab reaches no other network), then copy it to the server.
    const work = path.join(localDir, 'repo-build');
    const gnupg = path.join(localDir, 'gnupg');
    const repo = path.join(work, 'repo');
    mkdirSync(path.join(work, 'pkg', 'DEBIAN'), { recursive: true });
    mkdirSync(path.join(work, 'pkg', 'usr', 'share', 'doc', REPO_PACKAGE), { recursive: true });
    mkdirSync(repo, { recursive: true });
    mkdirSync(gnupg, { mode: 0o700 });
    writeFileSync(path.join(work, 'pkg', 'usr', 'share', 'doc', REPO_PACKAGE, 'hello'), 'hello\n');
    writeFileSync(path.join(work, 'pkg', 'DEBIAN', 'control'),
      `Package: ${REPO_PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: Flight tests <tests@example.invalid>\nDescription: test package\n`);
    const deb = path.join(repo, `${REPO_PACKAGE}_1.0_all.deb`);
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '--build', path.join(work, 'pkg'), deb], { stdio: 'ignore' });
    const debBytes = readFileSync(deb);
    const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
    const control = execFileSync('dpkg-deb', ['-f', deb]).toString('utf8').trimEnd();
    const packages = `${control}\nFilename: ./${path.basename(deb)}\nSize: ${debBytes.length}\nSHA256: ${sha(debBytes)}\n\n`;
    writeFileSync(path.join(repo, 'Packages'), packages);
    writeFileSync(path.join(repo, 'Release'),
      `Origin: flight-test\nLabel: flight-test\nDate: ${new Date().toUTCString()}\nSHA256:\n ${sha(packages)} ${Buffer.byteLength(packages)} Packages\n`);
    const gpg = (...args: string[]) => execFileSync('gpg', ['--homedir', gnupg, '--batch', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    gpg('--passphrase', '', '--quick-gen-key', 'Flight Test <tests@example.invalid>', 'ed25519', 'sign', 'never');
    gpg('--clearsign', '--output', path.join(repo, 'InRelease'), path.join(repo, 'Release'));
    const key = gpg('--armor', '--export').toString('utf8');
    writeFileSync(path.join(repo, 'key.asc'), key);
    const remoteRepo = `${ROOT}/repo`;
    const tar = execFileSync('tar', ['-czf', '-', '-C', repo, '.']);
    const up = await run('unarchive', { src: await writeTemp('repo.tar.gz', tar), dest: remoteRepo });
    assert.equal(up.result.failed, undefined, up.result.msg);

    const name = `${TAG}-a`;
    const task = { name: REPO_PACKAGE, repository: { name, url: `file:${remoteRepo}`, suite: './', key } };
    const check = await run('apt', task, { check: true, diff: true });
    assert.equal(check.result.changed, true, check.result.msg);
    assert.match(check.result.msg!, /would write \/etc\/apt\/keyrings\/.*\.asc, write .*\.sources, update the package lists/);
    assert.match(check.result.diff?.[0]?.after ?? '', /Signed-By: \/etc\/apt\/keyrings\//);
    assert.equal(await exists(`/etc/apt/sources.list.d/${name}.sources`), false, 'check mode wrote nothing');

    const first = await run('apt', task);
    assert.equal(first.result.failed, undefined, first.result.msg);
    assert.equal(first.result.changed, true);
    assert.equal(await onHost(server, `cat /etc/apt/sources.list.d/${name}.sources`),
      `Types: deb\nURIs: file:${remoteRepo}\nSuites: ./\nSigned-By: /etc/apt/keyrings/${name}.asc\n`);
    assert.equal(await onHost(server, `cat /etc/apt/keyrings/${name}.asc`), key);
    assert.equal(await onHost(server, `cat /usr/share/doc/${REPO_PACKAGE}/hello`), 'hello\n');
    await assertUnchanged('apt', task);

    // The same repository with its key given by URL (curl reads file: URLs), in a second copy.
    const copy = `${ROOT}/repo-b`;
    await onHost(server, `cp -a ${q(remoteRepo)} ${q(copy)}`);
    const byUrl = { name: REPO_PACKAGE, repository: { name: `${TAG}-b`, url: `file:${copy}`, suite: './', key_url: `file://${copy}/key.asc` } };
    const viaUrl = await run('apt', byUrl);
    assert.equal(viaUrl.result.failed, undefined, viaUrl.result.msg);
    assert.equal(viaUrl.result.changed, true);
    assert.equal(await onHost(server, `cat /etc/apt/keyrings/${TAG}-b.asc`), key);
    await assertUnchanged('apt', byUrl);
    await onHost(server, `rm -f /etc/apt/sources.list.d/${TAG}-b.sources /etc/apt/keyrings/${TAG}-b.asc`);

    await onHost(server, `${PURGE} ${REPO_PACKAGE} >/dev/null && rm -f /etc/apt/sources.list.d/${name}.sources /etc/apt/keyrings/${name}.asc /var/lib/apt/lists/*${TAG}*`);
  });

  async function writeTemp(name: string, data: Buffer): Promise<string> {
    const p = path.join(localDir, name);
    writeFileSync(p, data);
    return p;
  }
});
