import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { argv, quote, script, toShell, withBecome } from '../../src/command.js';

test('quote leaves safe words alone and single-quotes the rest', () => {
  const cases: Array<[string, string]> = [
    ['abc', 'abc'],
    ['/home/app/releases/20261126', '/home/app/releases/20261126'],
    ['', "''"],
    ['a b', "'a b'"],
    ["it's", `'it'\\''s'`],
    ['$(rm -rf /)', "'$(rm -rf /)'"],
    ['a;b', "'a;b'"],
  ];
  for (const [input, expected] of cases) assert.equal(quote(input), expected, input);
});

// The real test of quoting: the shell gives back exactly the words we put in.
test('hostile values survive a real shell unchanged', () => {
  const hostile = ['$(touch /tmp/pwned)', '`id`', "a'b\"c", 'x; echo injected', 'line1\nline2', '*', '--flag', '\\'];
  const line = toShell(argv('printf', '%s\\0', ...hostile));
  const out = execFileSync('sh', ['-c', line]).toString('utf8');
  assert.deepEqual(out.split('\0').slice(0, -1), hostile);
});

test('scripts receive values as positional arguments, never in their text', () => {
  const line = toShell(script('printf "%s|" "$1" "$2"', 'a b', '$(id)'));
  assert.equal(execFileSync('sh', ['-c', line]).toString('utf8'), 'a b|$(id)|');
});

test('withBecome: root uses runuser, others sudo, same user is a no-op', () => {
  assert.equal(withBecome('id', { user: 'root', loginUser: 'root' }), 'id');
  assert.match(withBecome('id', { user: 'app', loginUser: 'root' }), /^runuser -u app -- sh -c /);
  assert.equal(withBecome('id', { user: 'root', loginUser: 'deploy' }), "sudo -n -H -- sh -c id");
  assert.equal(withBecome('id -un', { user: 'app', loginUser: 'deploy' }), "sudo -n -H -u app -- sh -c 'id -un'");
});
