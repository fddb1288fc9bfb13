import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unifiedDiff } from '../../../src/util/diff.js';

test('diff shows removed and added lines with context', () => {
  const d = unifiedDiff('a\nb\nc\nd\n', 'a\nB\nc\nd\n', '/etc/x', 1);
  assert.equal(d, ['--- /etc/x (before)', '+++ /etc/x (after)', '@@', ' a', '-b', '+B', ' c'].join('\n'));
});

test('diff of a new file is all additions', () => {
  assert.equal(unifiedDiff('', 'x\ny\n', 'f'), '--- f (before)\n+++ f (after)\n@@\n+x\n+y');
});

test('far-apart changes are separate hunks', () => {
  const before = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n');
  const after = before.replace('l1\n', 'L1\n').replace('l18', 'L18');
  const hunks = unifiedDiff(before, after, 'f', 1).split('\n').filter((l) => l === '@@');
  assert.equal(hunks.length, 2);
});
