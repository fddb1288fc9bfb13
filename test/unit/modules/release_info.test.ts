import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { script, toShell } from '../../../src/command.js';
import { READ_SCRIPT, parseReleaseInfo, previousOf } from '../../../modules/release_info.js';
import { appLayout } from '../../../src/definitions/layout.js';

const SHA1 = 'a'.repeat(40);
const SHA2 = 'b'.repeat(40);

// The read script is fixed sh: run it locally over a scratch app home.
test('the read script lists releases, tells complete from half-made, and reads the log', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flight-release-info-'));
  try {
    const rel = (id: string, revision?: string) => {
      mkdirSync(path.join(home, 'releases', id), { recursive: true });
      if (revision !== undefined) writeFileSync(path.join(home, 'releases', id, 'REVISION'), revision);
    };
    rel('20261101T000000Z-aaaaaaaaaaaa', `${SHA1}\n`);
    rel('20261102T000000Z-bbbbbbbbbbbb', `${SHA2}\n`);
    rel('20261103T000000Z-cccccccccccc'); // upload in progress: no REVISION yet
    rel('20261104T000000Z-dddddddddddd', 'not a sha\n');
    symlinkSync(path.join(home, 'releases', '20261102T000000Z-bbbbbbbbbbbb'), path.join(home, 'current'));
    mkdirSync(path.join(home, '.flight'));
    writeFileSync(path.join(home, '.flight', 'releases.log'), `20261101T000000Z-aaaaaaaaaaaa\t${SHA1}\t2026-11-01T00:00:00Z\tci@build\tok\nr c\tx\ty\tz\tfailed\n`);

    const info = parseReleaseInfo(execFileSync('sh', ['-c', toShell(script(READ_SCRIPT, home, appLayout(home).releases_log))]).toString('utf8'));
    assert.deepEqual(info.releases.map((r) => [r.id.slice(0, 9), r.sha, r.complete]), [
      ['20261101T', SHA1, true],
      ['20261102T', SHA2, true],
      ['20261103T', '', false],
      ['20261104T', '', false],
    ]);
    assert.equal(info.current, '20261102T000000Z-bbbbbbbbbbbb');
    assert.equal(info.previous, '20261101T000000Z-aaaaaaaaaaaa');
    assert.equal(info.log.length, 2, 'every log line is a log entry, whatever it starts with');
    assert.deepEqual(info.log[0], { id: '20261101T000000Z-aaaaaaaaaaaa', sha: SHA1, time: '2026-11-01T00:00:00Z', who: 'ci@build', outcome: 'ok' });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a home with nothing in it yet reads as no releases', () => {
  const home = mkdtempSync(path.join(os.tmpdir(), 'flight-release-info-'));
  try {
    const info = parseReleaseInfo(execFileSync('sh', ['-c', toShell(script(READ_SCRIPT, home, appLayout(home).releases_log))]).toString('utf8'));
    assert.deepEqual(info, { releases: [], current: null, previous: null, log: [] });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('previousOf: the newest complete release older than current; the other of A and B', () => {
  const r = (id: string, complete = true) => ({ id, sha: complete ? SHA1 : '', complete });
  assert.equal(previousOf([r('1'), r('2', false), r('3')], '3'), '1');
  assert.equal(previousOf([r('1'), r('3')], null), null);
  assert.equal(previousOf([r('A'), r('B')], 'B'), 'A');
  assert.equal(previousOf([r('A', false), r('B')], 'B'), null);
});
