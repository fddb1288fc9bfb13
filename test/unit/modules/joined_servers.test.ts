/** joined_servers: the record beside an app's deploy lock, and the check releases make with it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatMembership, LEFT_WINDOW_S, membershipProblem, parseMembership, planMembership, updateMembership } from '../../../modules/joined_servers.js';

test('the record round-trips; the host time comes last; junk lines are dropped', () => {
  const records = [
    { state: 'joined' as const, name: 'web-3', cluster: 'prod', at: 1000 },
    { state: 'left' as const, name: 'web-4', cluster: 'prod', at: 2000 },
  ];
  assert.deepEqual(parseMembership(`${formatMembership(records)}garbage\njoined\tx\nnow 2500\n`), { records, now: 2500 });
  assert.deepEqual(parseMembership('now 7\n'), { records: [], now: 7 });
});

test('a run must list every server that joined, and none that left within the window', () => {
  const joined = [{ state: 'joined' as const, name: 'web-3', cluster: 'prod', at: 1000 }];
  assert.equal(membershipProblem(joined, ['web-1', 'web-3'], 5000), undefined);
  assert.match(membershipProblem(joined, ['web-1', 'web-2'], 5000)!, /^server 'web-3' joined this app at 1970-01-01T00:16:40Z \(flight server:add\) but this run's definitions do not list it: .*clusters\/prod\.servers\.yml.*`flight server:remove prod web-3`/);
  const left = [{ state: 'left' as const, name: 'web-4', cluster: 'prod', at: 1000 }];
  assert.match(membershipProblem(left, ['web-1', 'web-4'], 1000 + LEFT_WINDOW_S - 1)!, /^server 'web-4' left this app at .* still list it/);
  assert.equal(membershipProblem(left, ['web-1', 'web-4'], 1000 + LEFT_WINDOW_S), undefined, 'put back by hand later: not refused');
  assert.equal(membershipProblem(left, ['web-1'], 1001), undefined);
});

test('one line per server; old left lines are dropped when the record is written', () => {
  const before = [
    { state: 'joined' as const, name: 'web-3', cluster: 'prod', at: 1000 },
    { state: 'left' as const, name: 'web-9', cluster: 'prod', at: 10 },
  ];
  const now = 10 + LEFT_WINDOW_S;
  assert.deepEqual(updateMembership(before, { state: 'left', name: 'web-3', cluster: 'prod', at: now }, now), [
    { state: 'left', name: 'web-3', cluster: 'prod', at: now },
  ]);
  assert.deepEqual(updateMembership([], { state: 'joined', name: 'web-5', cluster: 'prod', at: 3 }, 3), [{ state: 'joined', name: 'web-5', cluster: 'prod', at: 3 }]);
});

test('recording a server: nothing when it already stands so; state is required', () => {
  const records = [{ state: 'joined' as const, name: 'web-3', cluster: 'prod', at: 1000 }];
  assert.deepEqual(planMembership(records, { name: 'web-3', state: 'joined' }, 2000), {});
  assert.deepEqual(planMembership(records, { name: 'web-3', state: 'left', cluster: 'prod' }, 2000), { write: [{ state: 'left', name: 'web-3', cluster: 'prod', at: 2000 }] });
  assert.deepEqual(planMembership(records, { name: 'web-5', state: 'joined' }, 2000), {
    write: [...records, { state: 'joined', name: 'web-5', cluster: '', at: 2000 }],
  });
  assert.match(planMembership(records, { name: 'web-5' }, 2000).error!, /name needs state/);
});
