import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toShell } from '../../../src/command.js';
import { failed } from '../../../src/errors.js';
import { createAjv } from '../../../src/json-schema.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { sha256 } from '../../../src/module-kit/write.js';
import {
  aclFile, aclLine, describeRedisPlan, loadedNote, parseRead, planChanged, planUsers, redis_users, usersError, type RedisUser,
} from '../../../modules/redis_users.js';

const users = (...names: string[]): RedisUser[] => names.map((name) => ({ name, prefix: `${name}:`, password_file: `/etc/flight/redis/${name}.password` }));
const ADMIN = '/etc/flight/redis/admin.password';

test('aclLine: the form ACL LIST prints; an app user gets only its own keys and channels, no dangerous command', () => {
  assert.equal(aclLine({ name: 'shop', password: 'pw', prefix: 'shop:' }), `user shop on #${sha256('pw')} ~shop:* resetchannels &shop:* +@all -@dangerous`);
  assert.equal(aclLine({ name: 'flight', password: 'pw', prefix: null }), `user flight on #${sha256('pw')} ~* &* +@all`);
});

test('aclFile: default off, every user sorted by name as Redis keeps them; the password itself is never in it', () => {
  const text = aclFile([{ name: 'flight', password: 'adminpw', prefix: null }, { name: 'shop', password: 'shoppw', prefix: 'shop:' }, { name: 'blog', password: 'blogpw', prefix: 'blog:' }]);
  assert.deepEqual(text.split('\n').filter(Boolean).map((l) => l.split(' ')[1]), ['blog', 'default', 'flight', 'shop']);
  assert.match(text, /^user default off resetchannels -@all$/m);
  assert.ok(text.endsWith('\n'));
  for (const pw of ['adminpw', 'shoppw', 'blogpw']) assert.ok(!text.includes(pw), pw);
});

test('usersError: names, prefixes and files are checked; one prefix may not cover another app\'s keys', () => {
  assert.equal(usersError(users('shop', 'blog'), ADMIN), undefined);
  assert.match(usersError(users('default'), ADMIN)!, /'default' is Redis's or Flight's own/);
  assert.match(usersError(users('flight'), ADMIN)!, /Flight's own/);
  assert.match(usersError(users('shop', 'shop'), ADMIN)!, /given twice/);
  assert.match(usersError([{ name: 'shop', prefix: 'sh*', password_file: '/p' }], ADMIN)!, /no glob characters/);
  assert.match(usersError([{ name: 'shop', prefix: 'shop:', password_file: ADMIN }], ADMIN)!, /password file .* given twice/);
  assert.match(usersError([{ name: 'a', prefix: 'a', password_file: '/a' }, { name: 'ab', prefix: 'ab:', password_file: '/ab' }], ADMIN)!, /'a' of 'a' also covers the keys of 'ab'/);
  for (const name of ['Shop', 'shop-x', 'sh op', "shop'", '$(id)', '']) assert.ok(usersError([{ name, prefix: 'x:', password_file: '/x' }], ADMIN), name);
});

test('schema: hostile values are refused before anything runs', () => {
  const v = createAjv().compile(redis_users.schema);
  const ok = { users: users('shop'), acl_file: '/etc/redis/users.acl', admin_password_file: ADMIN, load: { host: '10.0.0.3', port: 6379 }, password_of: 'shop' };
  assert.ok(v(ok), JSON.stringify(v.errors));
  assert.ok(!v({ ...ok, users: [{ ...users('shop')[0], prefix: 'shop:* ~*' }] }), 'a prefix that widens the key pattern');
  assert.ok(!v({ ...ok, load: { host: '$(id)', port: 6379 } }), 'a host with shell characters');
  assert.ok(!v({ ...ok, load: { host: '10.0.0.3', port: 70000 } }), 'a port out of range');
  assert.ok(!v({ ...ok, acl_file: 'users.acl' }), 'a relative path');
  assert.ok(!v({ ...ok, password_of: 'Shop' }), 'a bad name');
});

test('parseRead and planUsers: load only when the running Redis differs; a stopped one reads the file at start', () => {
  const st = parseRead('exists\t/etc/redis/users.acl\nloaded\tdiffers\n');
  assert.deepEqual([...st.exists], ['/etc/redis/users.acl']);
  assert.equal(st.loaded, 'differs');
  assert.equal(parseRead('loaded\tbogus\n').loaded, 'nocli');
  assert.deepEqual(planUsers([], true, 'same'), { passwords: [], writeFile: false, load: false });
  assert.equal(planChanged(planUsers([], true, 'same')), false);
  assert.deepEqual(planUsers([], true, 'differs'), { passwords: [], writeFile: false, load: true }, 'a file in place but not loaded is loaded');
  assert.deepEqual(planUsers(['/p'], false, 'down'), { passwords: ['/p'], writeFile: true, load: false });
  assert.equal(describeRedisPlan(planUsers(['/p'], false, 'differs'), '/etc/redis/users.acl', true), 'would generate a password into /p, write /etc/redis/users.acl, load the users into Redis');
  assert.match(loadedNote('noauth'), /does not know the flight user/);
  assert.equal(loadedNote('same'), '');
});

/** A Redis server with no files yet, whose running Redis differs; `sent` records every call. */
function freshServer(check: boolean, sent: string[], puts: Map<string, string>): ModuleContext {
  return {
    hostName: 'cache-1', check, diff: true, loginUser: 'root',
    exec: async (cmd) => {
      const line = toShell(cmd);
      sent.push(`exec ${line.slice(0, 40)}`);
      return { code: 0, stdout: line.includes('ACL LIST') ? 'loaded\tdiffers\n' : '', stderr: '' };
    },
    get: async (p): Promise<Buffer> => {
      sent.push(`get ${p}`);
      throw failed(`cache-1: get ${p} failed: No such file or directory`);
    },
    put: async (p, data) => {
      sent.push(`put ${p}`);
      puts.set(p, String(data));
    },
  } as ModuleContext;
}

test('redis_users: a check changes nothing and shows no password; the run stages every file and loads them', async () => {
  const params = { users: users('shop'), acl_file: '/etc/redis/users.acl', admin_password_file: ADMIN, load: { host: '10.0.0.3', port: 6379 }, password_of: 'shop' };
  const sent: string[] = [];
  const puts = new Map<string, string>();
  const check = await redis_users.run(freshServer(true, sent, puts), params);
  assert.equal(check.changed, true);
  assert.equal(check.msg, `redis_users: would generate a password into ${ADMIN}, generate a password into /etc/flight/redis/shop.password, write /etc/redis/users.acl, load the users into Redis`);
  assert.deepEqual(check.data, { loaded: true, password: '' }, 'a password the check only imagined is no password');
  assert.equal(sent.filter((c) => !c.startsWith('get')).length, 1, 'the state read only');
  assert.equal(puts.size, 0);

  sent.length = 0;
  const run = await redis_users.run(freshServer(false, sent, puts), params);
  assert.equal(run.changed, true);
  assert.match(run.msg!, /^redis_users: generated a password into .*, wrote \/etc\/redis\/users\.acl, loaded the users into Redis$/);
  const password = run.data?.password as string;
  assert.match(password, /^[A-Za-z0-9]{32}$/);
  assert.deepEqual([...puts.values()].filter((v) => v === password).length, 1, 'the password is put into its file');
  assert.ok(![run.msg, JSON.stringify(run.diff), ...sent].join('\n').includes(password), 'no message, diff or command holds it');
  assert.match(run.diff![0]!.after, /^user shop on #\(hash\)/m);
  // gets of the 3 files, the read, 2 stagings (mkdir, put) and the ACL file's put, the apply.
  assert.equal(sent.length, 3 + 1 + 2 * 2 + 1 + 1);
});
