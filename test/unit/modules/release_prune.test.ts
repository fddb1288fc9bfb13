import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPrune } from '../../../modules/release_prune.js';

const R = (n: number) => `2026010${n}T000000Z-aaaaaaaaaaaa`;

test('release_prune: keeps the newest, current and the one before it', () => {
  const names = [1, 2, 3, 4, 5, 6].map(R);
  assert.deepEqual(planPrune(names, R(6), 3), [R(1), R(2), R(3)]);
  // Rolled back to an old release: it and the one before it stay too.
  assert.deepEqual(planPrune(names, R(2), 3), [R(3)]);
  assert.deepEqual(planPrune(names, undefined, 2), [R(1), R(2), R(3), R(4)]);
});

test('release_prune: half-made releases neither count nor stand in for the previous one', () => {
  // R(5) was left half-made by a run that could not clean up; R(6) is current, R(4) the rollback target.
  const names = [1, 2, 3, 4, 5, 6].map(R);
  const complete = new Set([1, 2, 3, 4, 6].map(R));
  assert.deepEqual(planPrune(names, R(6), 2, complete), [R(1), R(2), R(3), R(5)]);
  assert.deepEqual(planPrune(names, R(6), 3, complete), [R(1), R(2), R(5)]);
  // Without the completeness the half-made one would take the previous release's place.
  assert.ok(planPrune(names, R(6), 2).includes(R(4)));
  // The alternate strategy's two directories: both stay while complete; an incomplete idle one goes.
  assert.deepEqual(planPrune(['A', 'B'], 'B', 2, new Set(['A', 'B'])), []);
  assert.deepEqual(planPrune(['A', 'B'], 'B', 2, new Set(['B'])), ['A']);
});
