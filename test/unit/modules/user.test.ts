import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { script, toShell } from '../../../src/command.js';
import { createAjv } from '../../../src/json-schema.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { READ_SCRIPT, REMOVE_SCRIPT, decideUser, parseUserState, planUser, user, type UserParams, type UserState } from '../../../modules/user.js';

test('user schema validates the name', () => {
  const v = createAjv().compile(user.schema);
  assert.ok(v({ name: 'myapp', system: true, home: '/home/myapp', shell: '/bin/bash', groups: ['www-data'], create_home: true, home_mode: '0750' }));
  for (const name of ['Root', '1abc', 'a b', 'a:b', '-rf', 'x'.repeat(33), '']) assert.ok(!v({ name }), name);
  assert.ok(!v({ name: 'a', home: 'relative' }));
  assert.ok(!v({ name: 'a', home_mode: '750x' }));
});

test('parseUserState reads passwd, groups, primary group, home mode and missing groups', () => {
  const st = parseUserState('passwd=app:x:998:998:Flight app:/home/app:/bin/sh\ngroups=app www-data\nhomemode=750\nflightdir=1\nnogroup=nosuch\n');
  assert.deepEqual(st, { exists: true, uid: 998, comment: 'Flight app', home: '/home/app', shell: '/bin/sh', groups: ['app', 'www-data'], primaryGroup: 'app', homeMode: '0750', flightDir: true, missingGroups: ['nosuch'] });
  assert.deepEqual(parseUserState(''), { exists: false, groups: [], missingGroups: [] });
});

test('planUser: create, change, or nothing', () => {
  const absent: UserState = { exists: false, groups: [], missingGroups: [] };
  const present: UserState = { exists: true, uid: 998, home: '/home/app', shell: '/bin/bash', groups: ['app', 'www-data'], primaryGroup: 'app', homeMode: '0750', missingGroups: [] };
  const cases: Array<[string, UserParams, UserState, string[][], RegExp?]> = [
    ['create a system user with home mode', { name: 'app', system: true, shell: '/bin/bash', groups: ['www-data'], home_mode: '0750' }, absent, [
      ['useradd', '--system', '--home-dir', '/home/app', '--shell', '/bin/bash', '--groups', 'www-data', '--create-home', '--', 'app'],
      ['chmod', '0750', '--', '/home/app'],
    ]],
    ['create without home', { name: 'app', home: '/srv/app', create_home: false }, absent, [
      ['useradd', '--home-dir', '/srv/app', '--no-create-home', '--', 'app'],
    ]],
    ['nothing to do', { name: 'app', system: true, shell: '/bin/bash', groups: ['www-data'], home_mode: '750' }, present, []],
    ['system is ignored for an existing user', { name: 'app', system: false }, present, []],
    ['shell and a new group, appended', { name: 'app', shell: '/bin/sh', groups: ['www-data', 'adm'] }, present, [
      ['usermod', '--shell', '/bin/sh', '--append', '--groups', 'adm', '--', 'app'],
    ]],
    ['home mode only', { name: 'app', home_mode: '0700' }, present, [['chmod', '0700', '--', '/home/app']]],
    ['home missing on an existing user', { name: 'app', home_mode: '0750' }, { ...present, homeMode: undefined }, [
      ['mkdir', '-p', '--', '/home/app'], ['chown', 'app:app', '--', '/home/app'], ['chmod', '0750', '--', '/home/app'],
    ]],
    ['home missing, create_home false', { name: 'app', create_home: false }, { ...present, homeMode: undefined }, []],
    ['home moved (not the files)', { name: 'app', home: '/srv/app' }, { ...present, homeMode: '0755' }, [['usermod', '--home', '/srv/app', '--', 'app']]],
  ];
  for (const [what, p, st, cmds] of cases) {
    const plan = planUser(p, st);
    assert.equal(plan.error, undefined, what);
    assert.deepEqual(plan.commands, cmds, what);
    assert.equal(plan.changes.length > 0, cmds.length > 0, what);
  }
  assert.match(planUser({ name: 'app', groups: ['a', 'b'] }, { ...absent, missingGroups: ['a', 'b'] }).error ?? '', /groups a, b do not exist/);
  assert.match(planUser({ name: 'Bad' }, absent).error ?? '', /invalid user name/);
});

test('planUser with a mark: made marked; a marked user is kept; another account is refused, never taken over', () => {
  const absent: UserState = { exists: false, groups: [], missingGroups: [] };
  const mine: UserState = { exists: true, uid: 998, comment: 'Flight app', home: '/home/shop', shell: '/bin/bash', groups: ['shop'], primaryGroup: 'shop', homeMode: '0750', missingGroups: [] };
  const p: UserParams = { name: 'shop', mark: 'Flight app', system: true, home: '/home/shop', shell: '/bin/bash' };
  assert.deepEqual(planUser(p, absent).commands[0], ['useradd', '--system', '--comment', 'Flight app', '--home-dir', '/home/shop', '--shell', '/bin/bash', '--create-home', '--', 'shop']);
  assert.deepEqual(planUser(p, mine).commands, []);
  // What an older Flight made: no comment, the app's home, with .flight/ in it: marked now.
  assert.deepEqual(planUser(p, { ...mine, comment: '', flightDir: true }).commands, [['usermod', '--comment', 'Flight app', '--', 'shop']]);
  const refusals: Array<[string, UserState]> = [
    ["a person's account, same home, no .flight/", { ...mine, comment: 'Shop Owner,,,', uid: 1000 }],
    ['a bare account in the same home', { ...mine, comment: '' }],
    ["a daemon's account", { ...mine, comment: '', home: '/var/lib/shop', flightDir: false }],
    ['another comment, even with .flight/', { ...mine, comment: 'made by hand', flightDir: true }],
  ];
  for (const [what, st] of refusals) {
    const plan = planUser(p, st);
    assert.match(plan.error ?? '', /already exists \(uid \d+, home \S+.*\) and is not one this task made: refusing to take it over/, what);
    assert.deepEqual(plan.commands, [], what);
  }
});

test('planUser absent: nothing when gone; a marked (or older Flight) user goes with its home; another account is never removed', () => {
  const mine: UserState = { exists: true, uid: 998, comment: 'Flight app', home: '/home/shop', shell: '/bin/bash', groups: ['shop'], primaryGroup: 'shop', homeMode: '0750', missingGroups: [] };
  const p: UserParams = { name: 'shop', mark: 'Flight app', home: '/home/shop', state: 'absent', remove_home: true };
  assert.deepEqual(planUser(p, { exists: false, groups: [], missingGroups: [] }), { commands: [], changes: [] });
  for (const st of [mine, { ...mine, comment: '', flightDir: true }]) {
    const plan = planUser(p, st);
    assert.equal(plan.error, undefined);
    assert.deepEqual(plan.commands, [['sh', '-c', REMOVE_SCRIPT, 'user-remove', 'shop', '1']]);
    assert.deepEqual(plan.changes, ['removed with its home /home/shop']);
  }
  assert.deepEqual(planUser({ ...p, remove_home: false }, mine).commands[0]!.slice(-1), [''], 'the home stays unless asked');
  for (const st of [{ ...mine, comment: 'Shop Owner,,,', uid: 1000 }, { ...mine, comment: '' }]) {
    const plan = planUser(p, st);
    assert.match(plan.error ?? '', /is not one this task made: refusing to remove it/);
    assert.deepEqual(plan.commands, []);
  }
});

// The read script is fixed sh; run it locally against root, whose entry every system has.
test('the read script, run locally, describes root and names missing groups', () => {
  const line = toShell(script(READ_SCRIPT, 'root', '', 'root', 'flight-no-such-group'));
  const st = parseUserState(execFileSync('sh', ['-c', line]).toString('utf8'));
  assert.equal(st.exists, true);
  assert.equal(st.uid, 0);
  assert.ok(st.groups.includes('root'));
  assert.equal(st.primaryGroup, 'root');
  assert.equal(st.home, '/root');
  assert.match(st.homeMode ?? '', /^0[0-7]{3}$/, 'the home folder named in passwd is read');
  assert.deepEqual(st.missingGroups, ['flight-no-such-group']);
  assert.equal(parseUserState(execFileSync('sh', ['-c', toShell(script(READ_SCRIPT, 'flight-no-such-user', ''))]).toString('utf8')).exists, false);
});

test('decideUser: a missing group is a failure, unless it may be one an earlier task would create (check mode)', () => {
  const absent: UserState = { exists: false, groups: [], missingGroups: ['shop'] };
  const p: UserParams = { name: 'shop', groups: ['shop', 'www-data'] };
  assert.deepEqual(decideUser(p, { state: absent, groupsMayBePending: false }), planUser(p, absent));
  assert.match(decideUser(p, { state: absent, groupsMayBePending: false }).error ?? '', /group shop does not exist/);
  const pending = decideUser(p, { state: absent, groupsMayBePending: true });
  assert.equal(pending.error, undefined);
  assert.deepEqual(pending.pendingGroups, ['shop']);
  assert.deepEqual(pending.commands, [['useradd', '--home-dir', '/home/shop', '--groups', 'shop,www-data', '--create-home', '--', 'shop']]);
  // Any other refusal still fails, and with the missing group named first, as a run would.
  const other: UserState = { exists: true, uid: 1000, comment: 'Shop Owner', home: '/home/shop', groups: ['users'], primaryGroup: 'users', homeMode: '0750', missingGroups: ['shop'] };
  assert.match(decideUser({ ...p, mark: 'Flight app' }, { state: other, groupsMayBePending: true }).error ?? '', /group shop does not exist/);
  // Removing a user needs no group.
  const removing = decideUser({ ...p, state: 'absent' }, { state: { ...other, comment: 'Flight app' }, groupsMayBePending: true });
  assert.equal(removing.pendingGroups, undefined);
  assert.deepEqual(removing.changes, ['removed']);
});

/** A host that answers the read with `stdout` and records every command sent. */
function fakeHost(check: boolean, stdout: string, sent: string[]): ModuleContext {
  return {
    hostName: 'web-1', check, diff: false, loginUser: 'root',
    exec: async (cmd) => {
      sent.push(toShell(cmd));
      return { code: 0, stdout: sent.length === 1 ? stdout : '', stderr: '' };
    },
  } as ModuleContext;
}

test('user: a check joins a group not created yet as a change; a run fails on it; nothing but the read is sent', async () => {
  const p: UserParams = { name: 'shop', groups: ['shop'] };
  for (const check of [true, false]) {
    const sent: string[] = [];
    const r = await user.run(fakeHost(check, 'nogroup=shop\n', sent), p);
    assert.equal(sent.length, 1, 'one read, no change');
    assert.deepEqual(r, check
      ? { changed: true, msg: 'would create user shop: new user, home /home/shop (group shop not created yet)' }
      : { changed: false, failed: true, msg: 'group shop does not exist' });
  }
  const sent: string[] = [];
  const made = await user.run(fakeHost(false, '', sent), p);
  assert.deepEqual([made.changed, made.msg, sent.length], [true, 'created user shop: new user, home /home/shop', 2]);
  assert.match(sent[1]!, /useradd/);
});
