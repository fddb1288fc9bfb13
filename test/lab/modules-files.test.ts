/**
 * The file-writing modules (file, template, copy, symlink, cron, supervisor) against a real lab
 * server over real SSH. Every claim is checked on the host with the system ssh client, not with
 * Flight's own code: first run changes, second run changes nothing in exactly one exec, check
 * mode leaves the host untouched, diffs are right, and hostile paths stay inert.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quote } from '../../src/command.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { ModuleHost, type ModuleRunOptions } from '../support/module-host.js';
import { ensureLab, labSkipReason, onHost } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

/** Everything this file creates lives under ROOT (or uses a name with this tag) to stay clear of parallel tests. */
const TAG = `flight-test-files-${process.pid}`;
const ROOT = `/tmp/${TAG}`;
/** A directory whose name would run commands if anything glued it into a shell line unquoted. */
const HOSTILE = `${ROOT}/sp ace 'q" $(touch ${ROOT}/pwned);x`;
const CRON_NAME = `flight-test-files-${process.pid}`;
const PROGRAM = `flight-test-files-${process.pid}`;

describe('file modules (lab)', { skip }, () => {
  let server: LabServer;
  let host: ModuleHost;
  let localDir: string;

  /** Run a command on the host with the system ssh client and return stdout (asserting success). */
  const q = quote;
  const statOf = async (p: string) => (await onHost(server, `stat -c '%F %a %U %G' -- ${q(p)}`)).trim();
  const catOf = (p: string) => onHost(server, `cat -- ${q(p)}`);

  const run = (name: string, params: object, opts?: ModuleRunOptions) => host.run(name, params, opts);
  /** A second run with the same arguments must report no change and cost exactly one exec. */
  const assertIdempotent = (name: string, params: object, vars?: Record<string, unknown>) => host.assertUnchanged(name, params, { vars });

  before(async () => {
    server = servers!.at(-1)!;
    localDir = mkdtempSync(path.join(os.tmpdir(), 'flight-files-'));
    host = await ModuleHost.open(server, { baseDir: localDir });
    mkdirSync(path.join(localDir, 'templates'));
    writeFileSync(path.join(localDir, 'templates', 'site.conf.j2'), 'server {{ name }};\nlisten {{ port }};\n');
    writeFileSync(path.join(localDir, 'payload.bin'), Buffer.from([0, 1, 2, 255, 10]));
    await onHost(server, `rm -rf -- ${q(ROOT)} && mkdir -p -- ${q(HOSTILE)}`);
  });

  after(async () => {
    if (!server) return;
    await sshRun(server, `rm -rf -- ${q(ROOT)} /etc/cron.d/${CRON_NAME}`);
    await host?.close();
    if (localDir) rmSync(localDir, { recursive: true, force: true });
  });

  it('file: directory, touch, attributes, recurse, absent', async () => {
    const dir = `${HOSTILE}/data`;
    const spec = { path: dir, state: 'directory', mode: '0750', owner: 'nobody', group: 'nogroup' };
    const first = await run('file', spec, { diff: true });
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 2, 'one read, one apply');
    assert.equal(await statOf(dir), 'directory 750 nobody nogroup');
    assert.deepEqual(first.result.diff, [{ path: dir, before: 'absent\n', after: 'directory mode=0750 owner=nobody group=nogroup\n' }]);
    await assertIdempotent('file', spec);

    const check = await run('file', { ...spec, mode: '0700' }, { check: true, diff: true });
    assert.equal(check.result.changed, true);
    assert.equal(check.execs, 1, 'check mode only reads');
    assert.deepEqual(check.result.diff, [{
      path: dir, before: 'directory mode=0750 owner=nobody group=nogroup\n', after: 'directory mode=0700 owner=nobody group=nogroup\n',
    }]);
    assert.equal(await statOf(dir), 'directory 750 nobody nogroup', 'check mode changed nothing');

    // recurse: a file below with another owner is found and fixed, though the top already matches.
    await onHost(server, `touch -- ${q(`${dir}/inner`)} && chown root:root -- ${q(`${dir}/inner`)}`);
    const rec = { ...spec, recurse: true };
    const fixed = await run('file', rec);
    assert.equal(fixed.result.changed, true, fixed.result.msg);
    assert.equal(await statOf(`${dir}/inner`), 'regular empty file 644 nobody nogroup');
    await assertIdempotent('file', rec);

    const touched = `${dir}/new file`;
    assert.equal((await run('file', { path: touched, state: 'touch', mode: '0640' })).result.changed, true);
    assert.equal(await statOf(touched), 'regular empty file 640 root root');
    await assertIdempotent('file', { path: touched, state: 'touch', mode: '0640' });
    await assertIdempotent('file', { path: touched });

    const missing = await run('file', { path: `${dir}/nope` });
    assert.equal(missing.result.failed, true);
    assert.match(missing.result.msg!, /does not exist/);
    const noParent = await run('file', { path: `${dir}/no/such`, state: 'touch' });
    assert.match(noParent.result.msg!, /parent directory .* does not exist/);
    const badOwner = await run('file', { path: touched, owner: 'no-such-user' });
    assert.equal(badOwner.result.failed, true);
    assert.match(badOwner.result.msg!, /invalid user/);

    const absentCheck = await run('file', { path: dir, state: 'absent' }, { check: true });
    assert.equal(absentCheck.result.changed, true);
    assert.equal(await statOf(dir), 'directory 750 nobody nogroup', 'check mode removed nothing');
    assert.equal((await run('file', { path: dir, state: 'absent' })).result.changed, true);
    assert.equal((await sshRun(server, `test -e ${q(dir)}`)).code, 1);
    await assertIdempotent('file', { path: dir, state: 'absent' });
  });

  it('template: render, compare by checksum, diff, check mode, validate', async () => {
    const dest = `${HOSTILE}/site.conf`;
    const vars = { name: 'example.test', port: 80 };
    const spec = { src: 'site.conf.j2', dest, mode: '0640', owner: 'nobody' };
    const first = await run('template', spec, { vars, diff: true });
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(first.execs, 2, 'one read, one atomic write');
    assert.equal(await catOf(dest), 'server example.test;\nlisten 80;\n');
    assert.equal(await statOf(dest), 'regular file 640 nobody root');
    assert.deepEqual(first.result.diff, [{ path: dest, before: '', after: 'server example.test;\nlisten 80;\n' }]);
    await assertIdempotent('template', spec, vars);

    const other = { name: 'example.test', port: 8080 };
    const check = await run('template', spec, { vars: other, check: true, diff: true });
    assert.equal(check.result.changed, true);
    assert.equal(check.execs, 1, 'the old content comes back with the read: no extra round trip for the diff');
    assert.deepEqual(check.result.diff, [{ path: dest, before: 'server example.test;\nlisten 80;\n', after: 'server example.test;\nlisten 8080;\n' }]);
    assert.equal(await catOf(dest), 'server example.test;\nlisten 80;\n', 'check mode wrote nothing');

    // A validator that rejects the new file: the old one stays, the task fails with its output.
    const bad = await run('template', { ...spec, validate: `sh -c 'grep -q "listen 80;" "$1" || { echo "port must be 80" >&2; exit 1; }' check %s` }, { vars: other });
    assert.equal(bad.result.failed, true);
    assert.match(bad.result.msg!, /validation failed.*port must be 80/);
    assert.equal(await catOf(dest), 'server example.test;\nlisten 80;\n', 'failed validation left the old file');
    assert.equal((await onHost(server, `ls -A -- ${q(HOSTILE)}`)).includes('.flight-'), false, 'no temp file left behind');

    const good = await run('template', { ...spec, validate: 'grep -q listen %s' }, { vars: other, diff: true });
    assert.equal(good.result.changed, true, good.result.msg);
    assert.equal(await catOf(dest), 'server example.test;\nlisten 8080;\n');
    assert.equal(await statOf(dest), 'regular file 640 nobody root', 'mode and owner kept through the replace');
  });

  it('copy: content and local files, secrets hidden, attribute-only changes', async () => {
    const dest = `${HOSTILE}/motd`;
    const spec = { content: 'hello\n', dest };
    assert.equal((await run('copy', spec)).result.changed, true);
    assert.equal(await catOf(dest), 'hello\n');
    await assertIdempotent('copy', spec);

    // Only the mode differs: changed, without rewriting content.
    const modeOnly = await run('copy', { ...spec, mode: '0600' }, { diff: true });
    assert.equal(modeOnly.result.changed, true);
    assert.match(modeOnly.result.msg!, /mode 0644 -> 0600/);
    assert.equal(modeOnly.result.diff, undefined, 'no content diff for a mode change');
    assert.equal(await statOf(dest), 'regular file 600 root root');

    const check = await run('copy', { content: 'bye\n', dest, mode: '0600' }, { check: true, diff: true });
    assert.deepEqual(check.result.diff, [{ path: dest, before: 'hello\n', after: 'bye\n' }]);
    assert.equal(await catOf(dest), 'hello\n');
    assert.equal(await statOf(dest), 'regular file 600 root root');

    // New content without a mode keeps the replaced file's mode and owner.
    await onHost(server, `chown nobody -- ${q(dest)}`);
    assert.equal((await run('copy', { content: 'hello again\n', dest })).result.changed, true);
    assert.equal(await statOf(dest), 'regular file 600 nobody root');

    const bin = `${HOSTILE}/payload.bin`;
    assert.equal((await run('copy', { src: 'payload.bin', dest: bin })).result.changed, true);
    assert.equal((await onHost(server, `od -An -tx1 -- ${q(bin)}`)).replace(/\s+/g, ''), '000102ff0a');
    await assertIdempotent('copy', { src: 'payload.bin', dest: bin });

    const env = `${HOSTILE}/.env`;
    const secret = await run('copy', { content: 'DB_PASSWORD=hunter2\n', dest: env }, { diff: true });
    assert.equal(secret.result.changed, true);
    assert.ok(!JSON.stringify(secret.result).includes('hunter2'), 'secret content never in result');
    assert.equal(await statOf(env), 'regular file 600 root root', 'a new env file is not world-readable');
    const changedSecret = await run('copy', { content: 'DB_PASSWORD=swordfish\n', dest: env }, { diff: true, check: true });
    assert.deepEqual(changedSecret.result.diff, [{ path: env, before: '(contents hidden)', after: '(contents hidden)' }]);
    assert.ok(!JSON.stringify(changedSecret.result).match(/hunter2|swordfish/));

    const hidden = await run('copy', { content: 'token\n', dest: `${HOSTILE}/token`, secret: true }, { diff: true });
    assert.deepEqual(hidden.result.diff, [{ path: `${HOSTILE}/token`, before: '', after: '(contents hidden)' }]);

    const noParent = await run('copy', { content: 'x', dest: `${HOSTILE}/missing/x` });
    assert.equal(noParent.result.failed, true);
    assert.match(noParent.result.msg!, /parent directory .*missing does not exist/);
    const denied = await run('copy', { content: 'x', dest: `${HOSTILE}/denied` }, { become: 'nobody' });
    assert.equal(denied.result.failed, true);
    assert.match(denied.result.msg!, /Permission denied/);
    assert.equal((await onHost(server, `ls -A -- ${q(HOSTILE)}`)).includes('.flight-'), false, 'no temp file left behind');
    const noSrc = await run('copy', { src: 'nope.txt', dest });
    assert.equal(noSrc.result.failed, true);
    assert.match(noSrc.result.msg!, /cannot read .*nope\.txt: ENOENT/);
  });

  it('symlink: link, relink atomically with mv -T, check mode, force', async () => {
    const app = `${HOSTILE}/app`;
    await onHost(server, `mkdir -p -- ${q(`${app}/releases/1`)} ${q(`${app}/releases/2`)}`);
    const current = `${app}/current`;
    const to1 = { path: current, target: 'releases/1' };
    const first = await run('symlink', to1, { diff: true });
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal((await onHost(server, `readlink -- ${q(current)}`)).trim(), 'releases/1');
    assert.deepEqual(first.result.diff, [{ path: current, before: 'absent\n', after: '-> releases/1\n' }]);
    await assertIdempotent('symlink', to1);

    const to2 = { path: current, target: 'releases/2' };
    const check = await run('symlink', to2, { check: true, diff: true });
    assert.equal(check.result.changed, true);
    assert.deepEqual(check.result.diff, [{ path: current, before: '-> releases/1\n', after: '-> releases/2\n' }]);
    assert.equal((await onHost(server, `readlink -- ${q(current)}`)).trim(), 'releases/1', 'check mode did not switch');

    // Atomicity: a reader resolving `current` in a tight loop while it is switched back and forth
    // must always find a release, never a missing link.
    const reader = sshRun(server, `i=0; while [ $i -lt 4000 ]; do [ -d ${q(current)} ] || echo MISSING; i=$((i + 1)); done; echo done`);
    for (let i = 0; i < 30; i++) {
      const r = await run('symlink', i % 2 ? to1 : to2);
      assert.equal(r.result.changed, true, r.result.msg);
    }
    const seen = await reader;
    assert.equal(seen.stdout.trim(), 'done', 'the link was never missing');
    assert.equal((await onHost(server, `ls -A -- ${q(app)}`)).trim().split('\n').sort().join(' '), 'current releases', 'no temp links left');

    const dangling = await run('symlink', { path: current, target: 'releases/9' });
    assert.equal(dangling.result.failed, true);
    assert.match(dangling.result.msg!, /does not exist/);

    // A real directory in the way is only replaced with force.
    const storage = `${app}/releases/2/storage`;
    await onHost(server, `mkdir -p -- ${q(`${storage}/logs`)} ${q(`${app}/shared/storage`)}`);
    const link = { path: storage, target: '../../shared/storage', owner: 'nobody' };
    const refused = await run('symlink', link);
    assert.equal(refused.result.failed, true);
    assert.match(refused.result.msg!, /force/);
    assert.equal((await run('symlink', { ...link, force: true })).result.changed, true);
    assert.equal((await onHost(server, `readlink -- ${q(storage)}; stat -c %U -- ${q(storage)}`)).trim(), '../../shared/storage\nnobody');
    await assertIdempotent('symlink', { ...link, force: true });
  });

  it('cron: a cron.d file, root-owned 0644, present and absent', async () => {
    const file = `/etc/cron.d/${CRON_NAME}`;
    const spec = {
      name: CRON_NAME,
      env: { SHELL: '/bin/sh', PATH: '/usr/local/bin:/usr/bin:/bin' },
      jobs: [{ schedule: '*/5 * * * *', user: 'nobody', command: `echo "it's $(id -un)" > /dev/null` }],
    };
    const expected = [
      `# Managed by Flight (cron ${CRON_NAME}): local edits are overwritten.`,
      'SHELL=/bin/sh',
      'PATH=/usr/local/bin:/usr/bin:/bin',
      `*/5 * * * * nobody echo "it's $(id -un)" > /dev/null`,
      '',
    ].join('\n');
    const first = await run('cron', spec, { diff: true });
    assert.equal(first.result.changed, true, first.result.msg);
    assert.equal(await catOf(file), expected);
    assert.equal(await statOf(file), 'regular file 644 root root');
    assert.deepEqual(first.result.diff, [{ path: file, before: '', after: expected }]);
    await assertIdempotent('cron', spec);

    const hourly = { ...spec, jobs: [{ ...spec.jobs[0]!, schedule: '@hourly' }] };
    const check = await run('cron', hourly, { check: true, diff: true });
    assert.equal(check.result.changed, true);
    assert.equal(check.result.diff?.[0]?.before, expected);
    assert.match(check.result.diff?.[0]?.after ?? '', /^@hourly nobody /m);
    assert.equal(await catOf(file), expected, 'check mode wrote nothing');

    // The schema refuses it first in a playbook (pattern); the module's own fence says why.
    const bad = await run('cron', { name: 'has.dot', content: '' }, { unchecked: true });
    assert.equal(bad.result.failed, true);
    assert.match(bad.result.msg!, /dots/);

    assert.equal((await run('cron', { name: CRON_NAME, state: 'absent' }, { check: true })).result.changed, true);
    assert.equal(await statOf(file), 'regular file 644 root root');
    assert.equal((await run('cron', { name: CRON_NAME, state: 'absent' })).result.changed, true);
    assert.equal((await sshRun(server, `test -e ${file}`)).code, 1);
    await assertIdempotent('cron', { name: CRON_NAME, state: 'absent' });
  });

  it('supervisor: program file, reread/update only on change, started/stopped, absent', { timeout: 600_000 }, async () => {
    // The package, installed once per server; the lock timeout waits for a parallel apt run.
    await onHost(server, 'command -v supervisorctl >/dev/null || { apt-get -o DPkg::Lock::Timeout=600 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq supervisor >/dev/null; }');
    const conf = `/etc/supervisor/conf.d/${PROGRAM}.conf`;
    const status = async () => (await sshRun(server, `supervisorctl status ${q(`${PROGRAM}:*`)}`)).stdout;
    const spec = {
      name: PROGRAM,
      command: '/bin/sleep 3600',
      user: 'nobody',
      numprocs: 2,
      directory: '/tmp',
      stopwaitsecs: 2,
      environment: { GREETING: `it's 100%, ok`, QUOTED: 'say "hi" now' },
    };
    try {
      const first = await run('supervisor', spec, { diff: true });
      assert.equal(first.result.failed, undefined, first.result.msg);
      assert.equal(first.result.changed, true);
      assert.match(await catOf(conf), /^numprocs=2$/m);
      assert.equal(await statOf(conf), 'regular file 644 root root');
      assert.equal(first.result.diff?.[0]?.path, conf);
      const st = await status();
      assert.equal(st.match(/RUNNING/g)?.length, 2, st);
      // supervisord passed the environment through its own quoting intact.
      const pid = (await onHost(server, `supervisorctl pid ${q(`${PROGRAM}:${PROGRAM}_00`)}`)).trim();
      const environ = (await onHost(server, `cat /proc/${Number(pid)}/environ`)).split('\0');
      assert.ok(environ.includes(`GREETING=it's 100%, ok`), environ.join(' | '));
      assert.ok(environ.includes('QUOTED=say "hi" now'), environ.join(' | '));
      assert.equal((await onHost(server, `stat -c %U /proc/${Number(pid)}`)).trim(), 'nobody');

      const pidsBefore = st.match(/pid \d+/g)!.join(',');
      await assertIdempotent('supervisor', spec);
      assert.equal((await status()).match(/pid \d+/g)!.join(','), pidsBefore, 'a no-change run restarts nothing');

      const check = await run('supervisor', { ...spec, numprocs: 3 }, { check: true, diff: true });
      assert.equal(check.result.changed, true);
      assert.match(check.result.diff?.[0]?.before ?? '', /numprocs=2/);
      assert.match(check.result.diff?.[0]?.after ?? '', /numprocs=3/);
      assert.match(await catOf(conf), /^numprocs=2$/m, 'check mode wrote nothing');
      assert.equal((await status()).match(/pid \d+/g)!.join(','), pidsBefore, 'check mode touched no process');

      // The module returns only once every process of the re-added group is RUNNING.
      const three = await run('supervisor', { ...spec, numprocs: 3 });
      assert.equal(three.result.changed, true, three.result.msg);
      assert.equal((await status()).match(/RUNNING/g)?.length, 3);

      const stop = await run('supervisor', { ...spec, numprocs: 3, started: false });
      assert.equal(stop.result.changed, true, stop.result.msg);
      assert.equal((await status()).match(/STOPPED/g)?.length, 3);
      await assertIdempotent('supervisor', { ...spec, numprocs: 3, started: false });
      const start = await run('supervisor', { ...spec, numprocs: 3 });
      assert.equal(start.result.changed, true, start.result.msg);
      assert.equal((await status()).match(/RUNNING/g)?.length, 3);

      // supervisord's own parser rejects the file before it replaces the good one.
      const badUser = await run('supervisor', { ...spec, numprocs: 3, user: 'no-such-user' });
      assert.equal(badUser.result.failed, true);
      assert.match(badUser.result.msg!, /validation failed.*Invalid user name no-such-user/);
      assert.match(await catOf(conf), /^user=nobody$/m, 'the good file stayed');
      assert.equal((await status()).match(/RUNNING/g)?.length, 3, 'the running program was not disturbed');

      // A program that cannot start is a failed task with supervisord's view of it.
      const broken = await run('supervisor', { ...spec, numprocs: 1, command: '/nonexistent/binary' });
      assert.equal(broken.result.failed, true);
      assert.match(broken.result.msg!, /not running: .*FATAL/);

      // One that crashes at boot (as a worker does when the new code cannot load) fails the
      // task once supervisord gives up on it, with the last lines it printed.
      const crashing = await run('supervisor', { ...spec, numprocs: 2, command: `/bin/sh -c 'echo "boot failed: missing class" >&2; exit 3'` });
      assert.equal(crashing.result.failed, true, crashing.result.msg);
      assert.match(crashing.result.msg!, /not running: .*FATAL/, crashing.result.msg);
      assert.match(crashing.result.msg!, /boot failed: missing class/, 'the processes\' last output is in the message');

      const gone = await run('supervisor', { name: PROGRAM, state: 'absent' });
      assert.equal(gone.result.changed, true, gone.result.msg);
      assert.equal((await sshRun(server, `test -e ${conf}`)).code, 1);
      assert.match(await status(), /no such group/i);
      await assertIdempotent('supervisor', { name: PROGRAM, state: 'absent' });
    } finally {
      await sshRun(server, `rm -f ${conf}; supervisorctl update ${q(PROGRAM)} >/dev/null 2>&1; true`);
    }
  });

  it('hostile names stayed inert', async () => {
    assert.equal((await sshRun(server, `test -e ${q(`${ROOT}/pwned`)}`)).code, 1, 'no command in a path ever ran');
  });
});
