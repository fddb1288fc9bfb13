import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toShell } from '../../../../src/command.js';
import { idMatches, parseChecksums, parseStatOutput, parseStatRecord, statCommand, statScript } from '../../../../src/module-kit/facts/file.js';

test('stat arguments: a count, then six per path (the parent folder computed here)', () => {
  const f = statScript([{ path: '/a', checksum: true }, { path: '/b c/d', contentUnless: 'abc', recurseOwner: 'app' }]);
  assert.deepEqual(f.args, ['2', '/a', '/', '1', '', '', '', '/b c/d', '/b c', '1', 'abc', 'app', '']);
  assert.ok(!f.text.includes('/b c'), 'paths never enter the script text');
  assert.throws(() => statScript([{ path: 'relative' }]), /absolute/);
});

test('parseStatRecord reads each kind of path', () => {
  const line = (st: string, quoted = '/p') => ({ st, quoted });
  const cases: Array<[ReturnType<typeof line> | undefined, string[], Partial<ReturnType<typeof parseStatRecord>>]> = [
    [undefined, ['1', '', '', ''], { type: 'missing', parentIsDir: true }],
    [undefined, ['0', '', '', ''], { type: 'missing', parentIsDir: false }],
    [line('regular file/644/0/root/0/root/12'), ['1', 'ab12', '', ''], { type: 'file', mode: '0644', owner: 'root', uid: 0, size: 12, sha256: 'ab12' }],
    [line('regular empty file/600/33/www-data/33/www-data/0'), ['1', 'e3b0', '', ''], { type: 'file', mode: '0600', owner: 'www-data', gid: 33 }],
    [line('directory/2750/1000/app/1000/app/4096'), ['1', '', '0', ''], { type: 'directory', mode: '2750', recurseMatches: false }],
    [line('symbolic link/777/0/root/0/root/9', '/p -> releases/1'), ['1', '', '', ''], { type: 'link', target: 'releases/1' }],
    [line('symbolic link/777/0/root/0/root/9', '/p -> a -> b'), ['1', '', '', ''], { type: 'link', target: 'a -> b' }],
    [line('fifo/644/0/root/0/root/0'), ['1', '', '', ''], { type: 'other' }],
    [line('regular file/644/0/root/0/root/3'), ['1', 'ff', '', 'b:aGk='], { content: Buffer.from('hi') }],
    [line('regular file/644/0/root/0/root/3'), ['1', 'ff', '', 'large'], { contentTooLarge: true }],
  ];
  for (const [l, fields, want] of cases) {
    const got = parseStatRecord('/p', l, fields);
    for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, `${l?.st ?? 'missing'} ${k}`);
  }
});

test('parseStatOutput matches stat records to paths by name, and rejects a cut-short reply', () => {
  const out = [
    '/a', 'directory/755/0/root/0/root/4096', '/a',
    'stat-end',
    '', // no checksum asked
    '1', '', '', '', // /x: no record, missing
    '1', '', '', '', // /a
    'end', 'installed=1\nfoo',
  ].join('\0');
  const { states, rest } = parseStatOutput(out, [{ path: '/x' }, { path: '/a' }]);
  assert.deepEqual(states.map((s) => s.type), ['missing', 'directory']);
  assert.equal(rest, 'installed=1\nfoo');
  assert.throws(() => parseStatOutput('stat-end\0\0' + '1\0', [{ path: '/x' }]), /unexpected output/);
  assert.throws(() => parseStatOutput('stat-end', [{ path: '/x' }]), /unexpected output/);
  assert.throws(() => parseStatOutput('/a\0dir', [{ path: '/a' }]), /unexpected output/);
});

test('parseChecksums reads sha256sum lines, escaped names included', () => {
  const a = 'a'.repeat(64);
  const b = 'b'.repeat(64);
  const sums = parseChecksums(`${a}  /srv/app.ini\n\\${b}  /srv/we\\\\ird\\nname\n`);
  assert.equal(sums.get('/srv/app.ini'), a);
  assert.equal(sums.get('/srv/we\\ird\nname'), b);
  assert.equal(sums.size, 2);
  assert.equal(parseChecksums('').size, 0);
});

test('idMatches takes names or numeric ids', () => {
  assert.ok(idMatches('root', 'root', 0));
  assert.ok(idMatches('0', 'root', 0));
  assert.ok(!idMatches('app', 'root', 0));
  assert.ok(!idMatches('1000', 'root', 0));
});

// The script itself, run by the local POSIX shell over a scratch tree (no host involved).
test('the stat script describes a real tree, hostile names included', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "flight-stat 'q\" "));
  try {
    const f = path.join(dir, 'f $(id);x');
    writeFileSync(f, 'hello\n');
    mkdirSync(path.join(dir, 'sub'));
    symlinkSync('f $(id);x', path.join(dir, 'ln'));
    // stat's "<path> -> <target>" form must not be fooled by the same arrow in either name.
    symlinkSync('a -> b/c', path.join(dir, 'x -> y'));
    const odd = path.join(dir, 'we\\ird\nname');
    writeFileSync(odd, 'x');
    const reqs = [
      { path: f, checksum: true, contentUnless: '0'.repeat(64) },
      { path: f, checksum: true, contentUnless: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03' },
      { path: path.join(dir, 'sub'), recurseOwner: String(process.getuid?.() ?? 0) },
      { path: path.join(dir, 'ln') },
      { path: path.join(dir, 'nope', 'x') },
      { path: path.join(dir, 'x -> y') },
      { path: odd, checksum: true },
      { path: path.join(dir, 'sub'), checksum: true },
    ];
    const out = execFileSync('sh', ['-c', toShell(statCommand(reqs))]).toString('utf8');
    const { states } = parseStatOutput(out, reqs);
    assert.equal(states[0]!.type, 'file');
    assert.equal(states[0]!.sha256, '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
    assert.equal(states[0]!.content?.toString(), 'hello\n', 'content sent when it differs');
    assert.equal(states[1]!.content, undefined, 'content not sent when it matches');
    assert.equal(states[2]!.type, 'directory');
    assert.equal(states[2]!.recurseMatches, true);
    assert.equal(states[3]!.type, 'link');
    assert.equal(states[3]!.target, 'f $(id);x');
    assert.equal(states[4]!.type, 'missing');
    assert.equal(states[4]!.parentIsDir, false);
    assert.equal(states[5]!.type, 'link');
    assert.equal(states[5]!.target, 'a -> b/c');
    assert.equal(states[6]!.sha256, '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', 'checksum of an oddly named file');
    assert.equal(states[7]!.sha256, undefined, 'no checksum for a folder');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
