import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { script, toShell } from '../../../src/command.js';
import { createAjv } from '../../../src/json-schema.js';
import { EXTRACT_SCRIPT, isTarGz, ownerSpec, unarchive } from '../../../modules/unarchive.js';

test('ownerSpec never lets "user:" pick the login group by accident', () => {
  assert.equal(ownerSpec('app', 'www-data'), 'app:www-data');
  assert.equal(ownerSpec('app'), 'app');
  assert.equal(ownerSpec(undefined, 'www-data'), ':www-data');
  assert.equal(ownerSpec(), '');
});

test('unarchive accepts .tar.gz and .tgz only; schema', () => {
  assert.ok(isTarGz('a/release.tar.gz') && isTarGz('x.TGZ'));
  assert.ok(!isTarGz('x.zip') && !isTarGz('x.tar'));
  const v = createAjv().compile(unarchive.schema);
  assert.ok(v({ src: 'r.tar.gz', dest: '/srv/x', creates: '/srv/x/a', owner: 'app', group: 'app', mode: '0750', extra_opts: ['--strip-components=1'] }));
  assert.ok(!v({ src: 'r.tar.gz', dest: 'relative' }));
  assert.ok(!v({ src: 'r.tar.gz', dest: '/x', owner: 'app:root' }));
});

// The extraction script, run locally: the archive on stdin, paths with spaces, --strip-components,
// the mode of dest, and a chown spec (our own uid, so it works without root).
test('the extraction script streams stdin into tar and sets dest mode and owner', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-unarchive-'));
  try {
    const srcDir = path.join(dir, 'src', 'top dir');
    mkdirSync(path.join(srcDir, 'sub dir'), { recursive: true });
    writeFileSync(path.join(srcDir, 'sub dir', "a 'quoted' file.txt"), 'hello');
    const archive = execFileSync('tar', ['-czf', '-', '-C', path.join(dir, 'src'), 'top dir']);
    const dest = path.join(dir, 'dest with space', 'x');
    const uid = String(process.getuid?.() ?? 0);
    const line = toShell(script(EXTRACT_SCRIPT, dest, uid, '0750', '--strip-components=1'));
    const r = spawnSync('sh', ['-c', line], { input: archive, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(path.join(dest, 'sub dir', "a 'quoted' file.txt"), 'utf8'), 'hello');
    assert.equal(statSync(dest).mode & 0o777, 0o750);
    const bad = spawnSync('sh', ['-c', line], { input: Buffer.from('not gzip'), encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
