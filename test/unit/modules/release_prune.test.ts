import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReleaseFacts, planLogPrune, planPrune, planReleasePrune } from '../../../modules/release_prune.js';

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

test('release logs go with their releases; logs of releases that are gone keep only the newest', () => {
  const rel = ['20261101', '20261102', '20261103', '20261104'];
  // 20261101 is pruned; f1..f4 are failed releases (no folder) whose logs stay for diagnosis, newest 2.
  const logs = ['20261101', '20261102', '20261103', '20261104', 'f1', 'f2', 'f3', 'f4'];
  assert.deepEqual(planLogPrune(logs, rel, ['20261101'], 2), ['20261101', 'f1', 'f2']);
  assert.deepEqual(planLogPrune(['20261104'], rel, [], 2), [], 'a live release keeps its log');
  assert.deepEqual(planLogPrune([], rel, ['20261101'], 2), []);
});

test('release_prune: the read names releases (complete or not), current and logs; the plan prunes both', () => {
  const facts = parseReleaseFacts(['l f1', 'l f2', 'l f3', `l ${R(1)}`, ...[1, 2, 3, 4, 5, 6].map((i) => `${i === 5 ? 'i' : 'r'} ${R(i)}`), `c ${R(6)}`, ''].join('\n'));
  assert.deepEqual(facts.names, [1, 2, 3, 4, 5, 6].map(R));
  assert.deepEqual([...facts.complete], [1, 2, 3, 4, 6].map(R));
  assert.equal(facts.current, R(6));
  assert.deepEqual(facts.logIds, ['f1', 'f2', 'f3', R(1)]);
  // R(5) is half-made; with keep 2, R(1)'s log goes with it and the newest two of the three orphan logs stay.
  assert.deepEqual(planReleasePrune(facts, 2), { remove: [R(1), R(2), R(3), R(5)], logs: [R(1), 'f1'] });
  // No current link and no logs folder: nothing but the oldest beyond keep goes.
  assert.deepEqual(planReleasePrune(parseReleaseFacts(`r ${R(1)}\nr ${R(2)}\nr ${R(3)}\n`), 2), { remove: [R(1)], logs: [] });
  assert.deepEqual(planReleasePrune(parseReleaseFacts(''), 2), { remove: [], logs: [] });
});
