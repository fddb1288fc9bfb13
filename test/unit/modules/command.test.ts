import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toShell, type Command } from '../../../src/command.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { createAjv } from '../../../src/json-schema.js';
import { command, commandArgv, outputTail, runArgv, shellSyntax, shortArgv, wrapCommand } from '../../../modules/command.js';

test('command schema: argv or cmd, known options only', () => {
  const v = createAjv().compile(command.schema);
  assert.ok(v({ argv: ['ls', '-l'], chdir: '/tmp', env: { A_1: 'x' }, creates: '/x', become_user: 'app', stdin: 'in' }));
  assert.ok(v({ cmd: 'ls -l' }));
  assert.ok(!v({ cmd: 'ls', typo: 1 }));
  assert.ok(!v({ argv: [] }));
  assert.ok(!v({ argv: ['ls'], env: { 'BAD-NAME': 'x' } }));
  assert.equal(command.freeForm, 'cmd');
});

test('commandArgv: exactly one of argv or cmd; cmd split by shell quoting rules', () => {
  assert.deepEqual(commandArgv({ argv: ['a b', '$(x)'] }), ['a b', '$(x)']);
  assert.deepEqual(commandArgv({ cmd: `php artisan tinker --execute='echo $x;' "two words"` }), ['php', 'artisan', 'tinker', '--execute=echo $x;', 'two words']);
  assert.match(commandArgv({}) as string, /exactly one/);
  assert.match(commandArgv({ argv: ['a'], cmd: 'a' }) as string, /exactly one/);
  assert.match(commandArgv({ cmd: '   ' }) as string, /empty/);
  assert.match(commandArgv({ cmd: "echo 'open" }) as string, /unterminated/);
});

test('shellSyntax refuses what only a shell understands, unless quoted', () => {
  const refused: Array<[string, string]> = [
    ['cat a | grep b', '|'],
    ['a && b', '&'],
    ['a; b', ';'],
    ['echo x > f', '>'],
    ['sort < f', '<'],
    ['echo $HOME', '$H'],
    ['echo "$HOME"', '$H'],
    ['echo ${x}', '${'],
    ['echo $(id)', '$('],
    ['echo "`id`"', '`'],
    ['(cd /; ls)', '('],
  ];
  for (const [line, what] of refused) assert.equal(shellSyntax(line), what, line);
  const fine = ["echo 'a | b; $(c)'", 'echo "a | b; c"', 'echo a\\|b', 'echo $', 'echo 5$', 'ls -l /tmp', 'grep -E "x+" f', "printf '%s\\n' x"];
  for (const line of fine) assert.equal(shellSyntax(line), undefined, line);
});

test('wrapCommand: every value is an argument, none is script text', () => {
  const hostile = `a'b"c $(touch /tmp/pwned) ; rm -rf / \n\`id\``;
  const cmd = wrapCommand(['printf', '%s', hostile], { nonce: 'n', dry: false, creates: hostile, chdir: hostile, log: hostile, env: { X: hostile } });
  assert.ok('script' in cmd);
  assert.ok(!cmd.script.includes('pwned'));
  assert.deepEqual(cmd.args, ['n', '0', hostile, '', hostile, hostile, '0', '1', `X=${hostile}`, 'printf', '%s', hostile]);
  assert.throws(() => wrapCommand(['true'], { nonce: 'n', dry: false, env: { 'A B': '1' } }), /invalid environment variable/);
});

// The wrapper is a fixed sh script: run it with the local sh to check each branch.
test('the wrapper: creates, removes, dry run, chdir, env and intact arguments', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-cmd-'));
  try {
    const exists = path.join(dir, 'exists');
    writeFileSync(exists, '');
    const run = (argv: string[], o: Partial<Parameters<typeof wrapCommand>[1]> = {}) => {
      const r = spawnSync('sh', ['-c', toShell(wrapCommand(argv, { nonce: 'NONCE', dry: false, ...o }))], { encoding: 'utf8' });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    assert.equal(run(['echo', 'ran'], { creates: exists }).out, 'NONCE skip-creates\n');
    assert.equal(run(['echo', 'ran'], { creates: path.join(dir, 'nope') }).out, 'ran\n');
    assert.equal(run(['echo', 'ran'], { removes: path.join(dir, 'nope') }).out, 'NONCE skip-removes\n');
    assert.equal(run(['echo', 'ran'], { removes: exists }).out, 'ran\n');
    assert.equal(run(['touch', path.join(dir, 'dry')], { dry: true }).out, 'NONCE would-run\n');
    assert.equal(spawnSync('test', ['-e', path.join(dir, 'dry')]).status, 1, 'dry run ran nothing');
    assert.equal(run(['pwd'], { chdir: dir }).out, `${dir}\n`);
    assert.deepEqual(run(['pwd'], { chdir: path.join(dir, 'nope') }), { code: 1, out: 'NONCE no-chdir\n', err: '' });
    const weird = `it's "quoted" $(id) \`id\` ; echo no\nsecond line`;
    assert.equal(run(['sh', '-c', 'printf %s "$A"'], { env: { A: weird, B: 'x=y' } }).out, weird);
    assert.equal(run(['printf', '%s|', weird, '', '-n']).out, `${weird}||-n|`);
    assert.equal(run(['sh', '-c', 'exit 7']).code, 7);
    // log: the command line and its output are appended to a file, and still returned.
    const log = path.join(dir, 'release.log');
    const logged = run(['sh', '-c', 'echo out; echo err >&2; exit 3', 'a b'], { log });
    assert.deepEqual([logged.code, logged.out], [3, 'out\nerr\n']);
    assert.equal(readFileSync(log, 'utf8'), '$ sh -c echo out; echo err >&2; exit 3 a b\nout\nerr\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('outputTail keeps the last lines of stderr, else stdout; shortArgv quotes what needs it', () => {
  assert.equal(outputTail({ stdout: 'out', stderr: '1\n2\n3\n4\n5\n6\n7\n' }), '3 | 4 | 5 | 6 | 7');
  assert.equal(outputTail({ stdout: 'only out\n', stderr: '  \n' }), 'only out');
  assert.equal(outputTail({ stdout: '', stderr: 'x'.repeat(1000) }).length, 603);
  assert.equal(shortArgv(['ls', '-l', 'a b']), 'ls -l "a b"');
  assert.ok(shortArgv(['x'.repeat(200)]).endsWith('...'));
});

test('a hostile argv survives the real local shell through toShell', () => {
  const words = ['$(id)', "a'b", 'c;d', 'e\nf'];
  const out = execFileSync('sh', ['-c', toShell(wrapCommand(['printf', '%s\\0', ...words], { nonce: 'n', dry: false }))]).toString('utf8');
  assert.deepEqual(out.split('\0').slice(0, -1), words);
});

/** A host whose wrapper always answers with `marker` (after the call's nonce); records what it is sent. */
function host(check: boolean, marker: string) {
  const sent: Command[] = [];
  const ctx = {
    check,
    async exec(cmd: Command) {
      sent.push(cmd);
      const nonce = (cmd as { args?: readonly string[] }).args?.[0];
      return { code: 0, stdout: `${nonce} ${marker}\n`, stderr: '' };
    },
  } as unknown as ModuleContext;
  return { ctx, sent };
}

test('check mode: without creates/removes nothing is asked; with them the wrapper decides, dry', async () => {
  const plain = host(true, 'would-run');
  assert.deepEqual(await runArgv(plain.ctx, ['php', 'artisan', 'migrate'], {}), { changed: true, msg: 'would run: php artisan migrate' });
  assert.equal(plain.sent.length, 0);

  const guarded = host(true, 'skip-creates');
  assert.deepEqual(await runArgv(guarded.ctx, ['php', 'artisan', 'migrate'], { creates: '/done' }), { changed: false, skipped: true, msg: 'skipped: /done exists' });
  assert.equal((guarded.sent[0] as { args?: readonly string[] }).args?.[1], '1', 'the wrapper runs dry');

  const real = host(false, 'skip-removes');
  assert.deepEqual(await runArgv(real.ctx, ['true'], { removes: '/gone' }), { changed: false, skipped: true, msg: 'skipped: /gone does not exist' });
  assert.equal((real.sent[0] as { args?: readonly string[] }).args?.[1], '0', 'a real run is not dry');
});

// Run with the local sh: the program's own niceness, IO class and session scheduling group.
test('nice: the program alone runs below the services, in a session whose scheduling group is lowered; the log shows it', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-unit-nice-'));
  try {
    const log = path.join(dir, 'release.log');
    const probe = ['sh', '-c', 'echo "$(nice) $(ionice)"; cat /proc/self/autogroup 2>/dev/null || true'];
    const r = spawnSync('sh', ['-c', toShell(wrapCommand(probe, { nonce: 'N', dry: false, nice: 7, log }))], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [levels, group] = r.stdout.split('\n');
    assert.equal(levels, '7 best-effort: prio 7');
    if (group) assert.match(group, /nice 7$/, 'the session\'s autogroup is lowered too');
    assert.match(readFileSync(log, 'utf8'), /^\$ sh -c .* \(at nice 7\)\n/, 'the log shows the command as given, and its priority');
    const plain = spawnSync('sh', ['-c', toShell(wrapCommand(['nice'], { nonce: 'N', dry: false, nice: 0 }))], { encoding: 'utf8' });
    assert.equal(plain.stdout, `${spawnSync('nice', { encoding: 'utf8' }).stdout}`, '0: at the caller\'s priority');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
