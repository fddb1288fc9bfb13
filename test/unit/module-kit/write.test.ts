import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { toShell } from '../../../src/command.js';
import type { PathState } from '../../../src/module-kit/facts/file.js';
import { sequence } from '../../../src/module-kit/batch.js';
import { HIDDEN, fileDiff, isSecretPath, planFile, sha256, tempPathFor } from '../../../src/module-kit/write.js';
import { attrCommands, planAttrs } from '../../../src/module-kit/attrs.js';
import { splitWords, validateArgv } from '../../../src/module-kit/validate.js';

const file = (over: Partial<PathState> = {}): PathState => ({
  path: '/etc/x.conf', type: 'file', mode: '0644', uid: 0, owner: 'root', gid: 0, group: 'root', size: 6,
  sha256: sha256('hello\n'), parentIsDir: true, ...over,
});
const missing: PathState = { path: '/etc/x.conf', type: 'missing', parentIsDir: true };

test('splitWords follows shell quoting without expanding anything', () => {
  const cases: Array<[string, string[]]> = [
    ['nginx -t -c %s', ['nginx', '-t', '-c', '%s']],
    ["sh -c 'php -l \"$1\"' x %s", ['sh', '-c', 'php -l "$1"', 'x', '%s']],
    ['a\\ b "c \\"d\\"" \'\'', ['a b', 'c "d"', '']],
    ['  spaced   out  ', ['spaced', 'out']],
    ['$(id) `x`', ['$(id)', '`x`']],
  ];
  for (const [line, want] of cases) assert.deepEqual(splitWords(line), want, line);
  assert.throws(() => splitWords("it's"), /unterminated/);
});

test('validateArgv puts the temp path in place of %s, as one word even with spaces', () => {
  assert.deepEqual(validateArgv('visudo -cf %s', '/etc/a b/.x'), ['visudo', '-cf', '/etc/a b/.x']);
  assert.deepEqual(validateArgv('check --file=%s', '/t'), ['check', '--file=/t']);
  assert.throws(() => validateArgv('nginx -t', '/t'), /%s/);
});

test('temp files are hidden siblings of the target', () => {
  const t = tempPathFor('/etc/cron.d/app');
  assert.match(t, /^\/etc\/cron\.d\/\.app\.flight-[0-9a-f]{12}$/);
  assert.notEqual(t, tempPathFor('/etc/cron.d/app'));
});

test('isSecretPath: env files', () => {
  for (const p of ['/home/a/shared/.env', '/x/.env.production', '/x/app.env']) assert.ok(isSecretPath(p), p);
  for (const p of ['/etc/environment', '/x/.envrc/y', '/x/env']) assert.ok(!isSecretPath(p), p);
});

test('planAttrs lists only what differs; numeric ids compare with ids', () => {
  assert.deepEqual(planAttrs(file(), { mode: '644', owner: '0', group: 'root' }), []);
  assert.deepEqual(planAttrs(file(), { mode: '0600', owner: 'app' }), [
    { attr: 'mode', from: '0644', to: '0600' },
    { attr: 'owner', from: 'root', to: 'app' },
  ]);
  assert.deepEqual(planAttrs(missing, { group: 'app' }), [{ attr: 'group', from: undefined, to: 'app' }]);
});

test('attrCommands: -h on links and recursion, modes never recursive', () => {
  const ch = [{ attr: 'owner' as const, to: 'app' }, { attr: 'mode' as const, to: '0750' }];
  assert.deepEqual(attrCommands('/d', ch, { recurse: true }), [['chown', '-R', '-h', '--', 'app', '/d'], ['chmod', '--', '0750', '/d']]);
  assert.deepEqual(attrCommands('/l', ch.slice(0, 1), { link: true }), [['chown', '-h', '--', 'app', '/l']]);
});

test('planFile: decide content and attributes from state alone', () => {
  const spec = { path: '/etc/x.conf', content: 'hello\n', mode: '0644' };
  assert.deepEqual(planFile(file(), spec), { create: false, content: false, attrs: [], sha256: sha256('hello\n') });
  const changed = planFile(file(), { ...spec, content: 'bye\n', owner: 'app' });
  assert.equal(changed.content, true);
  assert.deepEqual(changed.attrs.map((a) => a.attr), ['owner']);
  const created = planFile(missing, spec);
  assert.equal(created.create, true);
  assert.equal(created.content, true);
  assert.match(planFile({ ...missing, parentIsDir: false }, spec).error ?? '', /parent directory \/etc does not exist/);
  assert.match(planFile(file({ type: 'directory' }), spec).error ?? '', /is a directory/);
  // A symlink at the destination is replaced by a regular file.
  assert.equal(planFile(file({ type: 'link', target: '/x', sha256: undefined }), spec).content, true);
  // New secret files default to 0600; existing ones keep their mode.
  assert.deepEqual(planFile({ ...missing, path: '/a/.env' }, { path: '/a/.env', content: 'K=v' }).attrs, [{ attr: 'mode', from: undefined, to: '0600' }]);
  assert.deepEqual(planFile(file({ path: '/a/.env', sha256: sha256('K=v') }), { path: '/a/.env', content: 'K=v' }).attrs, []);
});

test('fileDiff shows text, hides secrets, marks binary and large files', () => {
  const spec = { path: '/etc/x.conf', content: 'new\n' };
  const old = file({ content: Buffer.from('hello\n') });
  assert.deepEqual(fileDiff(old, spec, planFile(old, spec)), { path: '/etc/x.conf', before: 'hello\n', after: 'new\n' });
  assert.equal(fileDiff(file(), { ...spec, content: 'hello\n' }, planFile(file(), { ...spec, content: 'hello\n' })), undefined);
  const secret = fileDiff(old, { ...spec, secret: true }, planFile(old, spec))!;
  assert.equal(secret.before, HIDDEN);
  assert.equal(secret.after, HIDDEN);
  const env = { path: '/a/.env', content: 'DB_PASSWORD=x' };
  const envDiff = fileDiff(missing, env, planFile(missing, env))!;
  assert.ok(!JSON.stringify(envDiff).includes('DB_PASSWORD'));
  assert.match(fileDiff(missing, { ...spec, content: Buffer.from([0, 1, 2]) }, planFile(missing, spec))!.after, /binary content, 3 bytes/);
  const large = file({ contentTooLarge: true, size: 999999 });
  assert.match(fileDiff(large, spec, planFile(large, spec))!.before, /too large/);
});

test('sequence runs argv commands in one script, values only as arguments, stopping at a failure', () => {
  const cmd = sequence([['printf', '%s|', 'a b', '$(id)'], ['false'], ['printf', 'never']]);
  assert.ok('script' in cmd && !cmd.script.includes('id'));
  let out = '';
  try {
    execFileSync('sh', ['-c', toShell(cmd)]);
  } catch (err) {
    out = String((err as { stdout: Buffer }).stdout);
  }
  assert.equal(out, 'a b|$(id)|');
  const words = Array.from({ length: 12 }, (_, i) => `w${i}`);
  const many = sequence([['echo', ...words]]);
  assert.equal(execFileSync('sh', ['-c', toShell(many)]).toString(), `${words.join(' ')}\n`, 'positional refs past $9 use braces');
});
