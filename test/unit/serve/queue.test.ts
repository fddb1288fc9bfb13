import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeployQueue } from '../../../src/serve/queue.js';

const d = (id: string) => ({ id });

test('queue: one per app runs; a newer request supersedes the waiting one', () => {
  const q = new DeployQueue<{ id: string }>();
  assert.deepEqual(q.enqueue('shop', d('1')), { start: d('1') });
  assert.deepEqual(q.enqueue('shop', d('2')), {});
  assert.deepEqual(q.enqueue('shop', d('3')), { superseded: d('2') });
  assert.deepEqual(q.enqueue('shop', d('4')), { superseded: d('3') });
  assert.equal(q.runningOf('shop')?.id, '1');
  assert.equal(q.waitingOf('shop')?.id, '4');
  // Other apps are independent.
  assert.deepEqual(q.enqueue('blog', d('b1')), { start: d('b1') });
  assert.equal(q.runningCount, 2);
  assert.equal(q.waitingCount, 1);
  // A finish for something that is not running changes nothing.
  assert.equal(q.finish('shop', '4'), undefined);
  assert.equal(q.finish('shop', '1')?.id, '4');
  assert.equal(q.runningOf('shop')?.id, '4');
  assert.equal(q.waitingOf('shop'), undefined);
  assert.equal(q.finish('shop', '4'), undefined);
  assert.equal(q.runningOf('shop'), undefined);
  assert.deepEqual(q.enqueue('shop', d('5')), { start: d('5') });
});

test('queue: takeWaiting empties the waiting slots only', () => {
  const q = new DeployQueue<{ id: string }>();
  q.enqueue('a', d('a1'));
  q.enqueue('a', d('a2'));
  q.enqueue('b', d('b1'));
  q.enqueue('b', d('b2'));
  assert.deepEqual(q.takeWaiting().map((x) => x.id).sort(), ['a2', 'b2']);
  assert.equal(q.waitingCount, 0);
  assert.equal(q.runningCount, 2);
  assert.equal(q.finish('a', 'a1'), undefined);
});
