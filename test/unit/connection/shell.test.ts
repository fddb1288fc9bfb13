import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argv, script } from '../../../src/command.js';
import { becomeUser, commandLine, getCommand, inlineLine, putCommand } from '../../../src/connection/shell.js';

describe('connection command lines', () => {
  it('maps become to a user', () => {
    assert.equal(becomeUser(true), 'root');
    assert.equal(becomeUser('app'), 'app');
    assert.equal(becomeUser(false), undefined);
    assert.equal(becomeUser(undefined), undefined);
    assert.equal(becomeUser(''), undefined);
  });

  const cases: Array<{ name: string; line: string; want: string }> = [
    { name: 'plain argv', line: commandLine(argv('echo', 'a b'), {}, 'root'), want: `echo 'a b'` },
    { name: 'cwd is quoted and guarded', line: commandLine(argv('ls'), { cwd: "/srv/it's" }, 'root'), want: `cd -- '/srv/it'\\''s' && ls` },
    { name: 'become as the login user is a no-op', line: commandLine(argv('id'), { become: 'root' }, 'root'), want: 'id' },
    {
      name: 'cwd goes inside the become wrapper',
      line: commandLine(argv('pwd'), { cwd: '/home/app', become: 'app' }, 'deploy'),
      want: `sudo -n -H -u app -- sh -c 'cd -- /home/app && pwd'`,
    },
    { name: 'become root from a non-root login', line: commandLine(argv('id'), { become: true }, 'deploy'), want: `sudo -n -H -- sh -c id` },
  ];
  for (const c of cases) it(c.name, () => assert.equal(c.line, c.want));

  it('put passes path, mode and owner as arguments, never in the script', () => {
    const cmd = putCommand('/etc/x; rm -rf /', { mode: 0o640, owner: 'app', group: 'www-data' });
    assert.ok('script' in cmd);
    assert.deepEqual(cmd.args, ['/etc/x; rm -rf /', '0640', 'app:www-data']);
    assert.ok(!cmd.script.includes('rm -rf'));
    assert.deepEqual((putCommand('/f', { group: 'g' }) as { args: readonly string[] }).args, ['/f', '', ':g']);
    assert.deepEqual((putCommand('/f', { owner: 'o' }) as { args: readonly string[] }).args, ['/f', '', 'o']);
    assert.deepEqual((putCommand('/f') as { args: readonly string[] }).args, ['/f', '', '']);
    assert.throws(() => putCommand('/f', { mode: 0o10000 }), /invalid file mode/);
  });

  it('get is cat with an end of options marker', () => {
    assert.deepEqual(getCommand('-weird'), argv('cat', '--', '-weird'));
    assert.deepEqual(script('x'), { script: 'x', args: [] });
  });
});

describe('inlineLine', () => {
  it('runs a script in the session subshell itself, its arguments quoted by set --', () => {
    assert.equal(inlineLine(script('echo "$1"', "it's"), {}, 'root'), "set -- 'it'\\''s'\necho \"$1\"");
    assert.equal(inlineLine(script('pwd'), { cwd: '/srv/a b' }, 'root'), "cd -- '/srv/a b' || exit\nset -- \npwd");
    assert.equal(inlineLine(script('id -un'), { become: true }, 'root'), 'set -- \nid -un', 'become root when logged in as root: no new process');
  });
  it('leaves alone what needs a process of its own: argv, another user, a host-side timeout, $$', () => {
    assert.equal(inlineLine(argv('true'), {}, 'root'), undefined);
    assert.equal(inlineLine(script('id'), { become: 'shop' }, 'root'), undefined);
    assert.equal(inlineLine(script('id'), { become: true }, 'deploy'), undefined);
    assert.equal(inlineLine(script('sleep 9'), { remoteTimeoutMs: 1000 }, 'root'), undefined);
    assert.equal(inlineLine(script('tmp=/tmp/x.$$'), {}, 'root'), undefined, '$$ would be the session shell');
  });
});
