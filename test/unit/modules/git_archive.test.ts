/**
 * git_archive runs on the control machine, so this is the real thing: real git, real sh, through
 * the local connection, on a repository and a cache folder of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ARCHIVE_DAYS, MIRROR_DAYS, git_archive } from '../../../modules/git_archive.js';
import { LocalConnection } from '../../../src/connection/local.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';

function localContext(check = false): ModuleContext {
  const conn = new LocalConnection();
  return { hostName: 'localhost', check, diff: false, loginUser: conn.loginUser, exec: (cmd, opts) => conn.exec(cmd, opts) } as ModuleContext;
}

function daysAgo(file: string, days: number): void {
  const t = new Date(Date.now() - days * 86_400_000);
  fs.utimesSync(file, t, t);
}

test('git_archive: archives a commit once, refuses a sha that is not one, and prunes what has gone unused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-archive-'));
  try {
    const repo = path.join(dir, 'repo');
    const cache = path.join(dir, 'cache');
    const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();
    fs.mkdirSync(repo);
    git('init', '-q');
    fs.writeFileSync(path.join(repo, 'index.php'), '<?php echo 1;\n');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'one');
    const sha = git('rev-parse', 'HEAD');

    // What earlier releases left: an archive used long ago and one used lately, a mirror of a
    // repository no release has used for months, and one a run is using now (its lock held).
    fs.mkdirSync(path.join(cache, 'archives'), { recursive: true });
    const stale = path.join(cache, 'archives', `${'a'.repeat(40)}.tar.gz`);
    const recent = path.join(cache, 'archives', `${'b'.repeat(40)}.tar.gz`);
    for (const f of [stale, recent]) fs.writeFileSync(f, 'x');
    daysAgo(stale, ARCHIVE_DAYS + 1);
    daysAgo(recent, ARCHIVE_DAYS - 1);
    const oldMirror = path.join(cache, 'mirrors', 'b2xk.git');
    const busyMirror = path.join(cache, 'mirrors', 'YnVzeQ.git');
    for (const m of [oldMirror, busyMirror]) {
      fs.mkdirSync(m, { recursive: true });
      daysAgo(m, MIRROR_DAYS + 1);
    }
    fs.writeFileSync(`${busyMirror}.lock`, '');
    const holder = execFileSync('sh', ['-c', `flock -n ${busyMirror}.lock sleep 10 >/dev/null 2>&1 & echo $!`], { encoding: 'utf8' }).trim();
    // Wait until the holder has the lock (flock -n then fails).
    execFileSync('sh', ['-c', `i=0; while flock -n ${busyMirror}.lock true && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`]);

    const dry = await git_archive.run(localContext(true), { repo, sha: sha.slice(0, 8), cache_dir: cache });
    assert.equal(dry.changed, true, 'check mode says the archive would be made');
    assert.equal(dry.msg, `${sha.slice(0, 12)} (archive would be created)`);
    assert.equal(dry.data!.sha, sha);
    assert.ok(!fs.existsSync(path.join(cache, 'archives', `${sha}.tar.gz`)), 'check mode makes no archive');
    assert.ok(fs.existsSync(stale), 'check mode prunes nothing');

    const first = await git_archive.run(localContext(), { repo, sha: sha.slice(0, 8), cache_dir: cache });
    assert.equal(first.failed, undefined, first.msg);
    assert.equal(first.changed, true);
    assert.equal(first.data!.sha, sha);
    const archive = path.join(cache, 'archives', `${sha}.tar.gz`);
    assert.equal(first.msg, `${sha.slice(0, 12)} -> ${archive}`);
    assert.match(execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }), /index\.php/);
    assert.ok(!fs.existsSync(stale), `an archive unused for ${ARCHIVE_DAYS}+ days is deleted`);
    assert.ok(fs.existsSync(recent), 'an archive used lately stays');
    assert.ok(!fs.existsSync(oldMirror), `a mirror unused for ${MIRROR_DAYS}+ days is deleted`);
    assert.ok(fs.existsSync(busyMirror), 'a mirror whose lock another run holds stays');
    process.kill(Number(holder));

    daysAgo(archive, ARCHIVE_DAYS + 1);
    const again = await git_archive.run(localContext(), { repo, sha, cache_dir: cache });
    assert.equal(again.changed, false, 'a cached archive is used as it is');
    assert.ok(fs.statSync(archive).mtimeMs > Date.now() - 60_000, 'using an archive marks it used');
    const cachedDry = await git_archive.run(localContext(true), { repo, sha, cache_dir: cache });
    assert.deepEqual([cachedDry.changed, cachedDry.msg], [false, `${sha.slice(0, 12)} (archive cached)`]);

    const bad = await git_archive.run(localContext(), { repo, sha: 'deadbeef', cache_dir: cache });
    assert.equal(bad.failed, true);
    assert.match(bad.msg!, /deadbeef is not a commit of /);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
