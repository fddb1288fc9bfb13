/** Automatic rollback's decision: which signals roll the last release back, and why not otherwise. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideSignal, parseSignal, type SignalContext } from '../../../src/serve/signals.js';
import type { DeployRecord } from '../../../src/serve/types.js';

const T0 = Date.parse('2026-11-26T10:00:00Z');
const release = (over: Partial<DeployRecord> = {}): DeployRecord => ({
  id: '20261126T095500.000Z-aaaaaa', app: 'shop', kind: 'release', sha: 'abcdef1234', state: 'succeeded', source: 'api',
  requested_at: '2026-11-26T09:55:00Z', started_at: '2026-11-26T09:55:00Z', finished_at: '2026-11-26T10:00:00Z', ...over,
});
const ctx = (over: Partial<SignalContext> = {}): SignalContext => ({
  policy: { error_rate: 0.05, window: 300, min_requests: 0 }, signal: { error_rate: 0.2 }, last: release(), busy: undefined, now: T0 + 60_000, ...over,
});

test('a rate over the threshold inside the window rolls the last release back, saying why', () => {
  const d = decideSignal(ctx());
  assert.equal(d.rollback, true);
  assert.ok(d.rollback && d.of.id === release().id);
  assert.equal(d.reason, 'error rate 20% passed the 5.0% threshold 60 s after release 20261126T095500.000Z-aaaaaa (abcdef1234)');
});

test('the window is inclusive at its end and closed after it', () => {
  assert.equal(decideSignal(ctx({ now: T0 + 300_000 })).rollback, true);
  const late = decideSignal(ctx({ now: T0 + 301_000 }));
  assert.equal(late.rollback, false);
  assert.equal(late.reason, 'release 20261126T095500.000Z-aaaaaa (abcdef1234) ended 301 s ago, outside the 300 s window');
});

test('no rollback: at the threshold, too few requests, another commit, a deploy in progress, no release, already rolled back', () => {
  const cases: Array<[Partial<SignalContext>, RegExp]> = [
    [{ signal: { error_rate: 0.05 } }, /error rate 5\.0% is within the 5\.0% threshold/],
    [{ policy: { error_rate: 0.05, window: 300, min_requests: 50 }, signal: { error_rate: 0.9, requests: 49 } }, /covers 49 requests, fewer than the 50 required/],
    [{ policy: { error_rate: 0.05, window: 300, min_requests: 50 }, signal: { error_rate: 0.9 } }, /covers an unknown number of requests/],
    [{ signal: { error_rate: 0.9, sha: 'abcdef9' } }, /about abcdef9; the last release is abcdef1234/],
    [{ busy: release({ id: 'x', state: 'running' }) }, /release x is running/],
    [{ last: undefined }, /no successful release/],
    [{ last: release({ rollback: { id: 'r1', at: '2026-11-26T10:00:30Z', reason: 'boom' } }) }, /already rolled back by r1/],
  ];
  for (const [over, why] of cases) {
    const d = decideSignal(ctx(over));
    assert.equal(d.rollback, false, JSON.stringify(over));
    assert.match(d.reason, why);
  }
  assert.equal(decideSignal(ctx({ signal: { error_rate: 0.9, sha: 'abcdef' } })).rollback, true, 'an abbreviated sha of the release');
});

test('signal bodies: a rate, or errors over requests; anything else is refused naming the field', () => {
  assert.deepEqual(parseSignal({ error_rate: 0.12 }), { error_rate: 0.12 });
  assert.deepEqual(parseSignal({ errors: 3, requests: 12, sha: 'ABCDEF1' }), { error_rate: 0.25, requests: 12, sha: 'abcdef1' });
  assert.deepEqual(parseSignal({ errors: 0, requests: 0 }), { error_rate: 0, requests: 0 });
  for (const [body, msg] of [
    [{}, /error_rate \(0 to 1\), or errors and requests, are required/],
    [{ error_rate: -0.1 }, /error_rate must be a number from 0 to 1/],
    [{ error_rate: 0.1, errors: 1 }, /not both/],
    [{ errors: 1.5, requests: 3 }, /errors must be a whole number/],
    [{ errors: 4, requests: 3 }, /cannot exceed/],
    [{ error_rate: 0.1, sha: 'main' }, /sha "main" is not valid: expected a commit sha/],
    [{ error_rate: 0.1, window: 5 }, /unknown field: window/],
  ] as const) {
    assert.throws(() => parseSignal(body as Record<string, unknown>), (e: Error & { status?: number }) => e.status === 422 && msg.test(e.message), JSON.stringify(body));
  }
});
