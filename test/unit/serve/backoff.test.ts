import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthBackoff } from '../../../src/serve/backoff.js';

function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('backoff: the free-th failure starts a delay that doubles up to the cap', () => {
  const c = clock();
  const b = new AuthBackoff({ free: 3, baseMs: 1000, maxMs: 8000, forgetMs: 60_000, maxEntries: 100, now: c.now });
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    b.failure('10.0.0.1');
    delays.push(b.retryAfter('10.0.0.1'));
  }
  // free: 3 -> after the third failure, the fourth attempt is refused.
  assert.deepEqual(delays, [0, 0, 1000, 2000, 4000, 8000, 8000]);
  b.failure('10.0.0.1');
  assert.equal(b.retryAfter('10.0.0.1'), 8000, 'capped');
  assert.equal(b.retryAfter('10.0.0.2'), 0, 'other addresses are not affected');
  c.advance(3000);
  assert.equal(b.retryAfter('10.0.0.1'), 5000, 'the wait runs down');
});

test('backoff: quiet clients are forgotten; the table is bounded', () => {
  const c = clock();
  const b = new AuthBackoff({ free: 2, baseMs: 1000, maxMs: 8000, forgetMs: 60_000, maxEntries: 3, now: c.now });
  b.failure('a');
  b.failure('a');
  assert.ok(b.retryAfter('a') > 0);
  c.advance(60_001);
  assert.equal(b.retryAfter('a'), 0, 'forgotten after forgetMs');
  b.failure('a');
  assert.equal(b.retryAfter('a'), 0, 'the count started again');
  for (const addr of ['b', 'c', 'd', 'e']) b.failure(addr);
  assert.equal(b.size, 3);
  for (let i = 0; i < 10_000; i++) b.failure(`x${i}`);
  assert.equal(b.size, 3);
});
