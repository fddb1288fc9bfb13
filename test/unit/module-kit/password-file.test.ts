import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generatePassword, parsePassword, scrub } from '../../../src/module-kit/password-file.js';

test('generatePassword: 32 characters of [A-Za-z0-9], never the same; parsePassword', () => {
  const a = generatePassword();
  assert.match(a, /^[A-Za-z0-9]{32}$/);
  assert.notEqual(a, generatePassword());
  assert.deepEqual(parsePassword('abc\n'), { password: 'abc' });
  assert.deepEqual(parsePassword('a\\b\'c'), { password: "a\\b'c" });
  assert.equal(parsePassword('').error, 'is empty');
  assert.equal(parsePassword('\n').error, 'is empty');
  assert.equal(parsePassword('a\nb\n').error, 'holds more than one line');
});

test('scrub: every password is hidden wherever it appears, empty ones are ignored', () => {
  assert.equal(scrub('a pw1 b pw2 pw1', ['pw1', 'pw2', '']), 'a (password hidden) b (password hidden) (password hidden)');
});
