/**
 * The shell session's protocol (src/connection/session.ts): the loop script run by a real local
 * `sh`, fed frames the way the SSH connection writes them, answers parsed the way it parses them.
 * The same session over real SSH: test/lab/connection.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { after, test } from 'node:test';
import { argv, script, toShell } from '../../../src/command.js';
import { frame, loopLine, takeAnswer } from '../../../src/connection/session.js';
import { inlineLine, putCommand, SESSION_STDIN_MAX, sessionLine } from '../../../src/connection/shell.js';
import type { RawResult } from '../../../src/connection/shell.js';

const MARKER = 'FLIGHT-END-0123456789abcdef0123456789abcdef';

/** A local loop: run(line) writes one frame and waits for its answer. */
function localLoop(): { run: (line: string) => Promise<RawResult>; sh: ChildProcessWithoutNullStreams } {
  const sh = spawn('sh', ['-c', loopLine()], { cwd: '/tmp' });
  sh.stdin.write(`${MARKER}\n`);
  let out = Buffer.alloc(0);
  let err = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  sh.stdout.on('data', (d: Buffer) => ((out = Buffer.concat([out, d])), wake?.()));
  sh.stderr.on('data', (d: Buffer) => ((err = Buffer.concat([err, d])), wake?.()));
  const marker = Buffer.from(MARKER);
  return {
    sh,
    async run(line) {
      sh.stdin.write(frame(line));
      for (;;) {
        const got = takeAnswer(out, err, marker);
        if (got) {
          out = Buffer.from(got.out);
          err = Buffer.from(got.err);
          return got.result;
        }
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
}

const loop = localLoop();
after(() => loop.sh.kill());
const text = (r: RawResult) => ({ code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() });

test('each line runs and answers with its output, its stderr and its exit status', async () => {
  assert.deepEqual(text(await loop.run(toShell(argv('printf', '%s\\n', 'a b', "it's")))), { code: 0, stdout: "a b\nit's\n", stderr: '' });
  assert.deepEqual(text(await loop.run(toShell(script('printf no-newline; echo oops >&2; exit 3')))), { code: 3, stdout: 'no-newline', stderr: 'oops\n' });
  // The shell running the line reports the signal on stderr ("Terminated"); the status is what matters.
  assert.equal((await loop.run(toShell(script('kill -TERM $$')))).code, 143, 'a signal is 128+N, as with exec');
});

test('nothing leaks from one call into the next: exit, cd, variables, set -e; stdin is empty', async () => {
  assert.equal((await loop.run('cd / && X=1 && set -e && exit 7')).code, 7);
  assert.deepEqual(text(await loop.run('pwd; echo "x=${X-unset}"; false; echo still')), { code: 0, stdout: '/tmp\nx=unset\nstill\n', stderr: '' });
  assert.deepEqual(text(await loop.run('cat; echo "m=[$m] n=[$n] l=[$l]"')), { code: 0, stdout: 'm=[] n=[] l=[]\n', stderr: '' }, 'the loop and its marker are out of reach');
  const ps = await loop.run(`cat /proc/${loop.sh.pid}/cmdline /proc/${loop.sh.pid}/environ`);
  assert.ok(ps.stdout.length > 0 && !ps.stdout.includes(MARKER), 'the marker is in no argument or environment a process listing shows');
});

test('multi-line lines, backslashes, quotes and binary output arrive intact', async () => {
  const body = 'line 1\n  "quoted" \\n not an escape\n$(not run)\n\nlast';
  const r = await loop.run(toShell(script('printf "%s" "$1"', body)));
  assert.equal(r.stdout.toString(), body);
  const bin = await loop.run("printf 'a\\000b\\377c'");
  assert.deepEqual([...bin.stdout], [0x61, 0, 0x62, 0xff, 0x63]);
  const here = await loop.run("cat <<'EOF'\none\ntwo\nEOF");
  assert.equal(here.stdout.toString(), 'one\ntwo\n');
});

test('inline scripts run in the subshell with their arguments, exit codes and cwd as with sh -c', async () => {
  const body = 'quote \' and $(x) and\nnewline';
  assert.deepEqual(text(await loop.run(inlineLine(script('printf "%s|%s|%d" "$1" "$2" "$#"', body, ''), {}, 'root')!)), { code: 0, stdout: `${body}||2`, stderr: '' });
  assert.equal((await loop.run(inlineLine(script('set -e; false; echo never'), {}, 'root')!)).code, 1);
  assert.equal((await loop.run(inlineLine(script('exit 5'), {}, 'root')!)).code, 5);
  assert.equal((await loop.run(inlineLine(script('pwd'), { cwd: '/' }, 'root')!)).stdout.toString(), '/\n');
  assert.notEqual((await loop.run(inlineLine(script('pwd'), { cwd: '/nonexistent' }, 'root')!)).code, 0);
  assert.equal((await loop.run('pwd')).stdout.toString(), '/tmp\n', 'nothing leaked');
  assert.equal((await loop.run(inlineLine(script('echo "[${c-unset}]"'), {}, 'root')!)).stdout.toString(), '[]\n', 'the loop\'s line variable is cleared');
});

test('small text stdin travels inside the call, byte for byte, and reaches only the command', async () => {
  const content = "A=1\nEOF\n}\nquote ' \" $(id) `id` \\ back\r\nFLIGHT_EOF_x\n\u00e9t\u00e9 \u2713\n";
  const cat = await loop.run(sessionLine(script('cat; echo "rc$1"', 'x'), {}, 'root', content)!);
  assert.deepEqual(text(cat), { code: 0, stdout: `${content}rcx\n`, stderr: '' });
  const asBuffer = await loop.run(sessionLine(argv('cat'), {}, 'root', Buffer.from(content))!);
  assert.equal(asBuffer.stdout.toString(), content);
  assert.equal((await loop.run(sessionLine(script('cat >/dev/null; exit 3'), {}, 'root', 'x\n')!)).code, 3);
  assert.equal((await loop.run('cat; echo done')).stdout.toString(), 'done\n', 'the next call reads nothing of it');
  // A put through the session: the file holds exactly the content, with the asked mode.
  const file = `/tmp/flight-session-put-${process.pid}`;
  const put = await loop.run(sessionLine(putCommand(file, { mode: 0o600 }), {}, 'root', content)!);
  assert.equal(put.code, 0, put.stderr.toString());
  const back = await loop.run(sessionLine(script('stat -c %a "$1"; cat "$1"; rm -f "$1"', file), {}, 'root')!);
  assert.equal(back.stdout.toString(), `600\n${content}`);
});

test('stdin the session cannot carry is left to an exec request', () => {
  const cmd = argv('cat');
  assert.equal(sessionLine(cmd, {}, 'root', 'no final newline'), undefined);
  assert.equal(sessionLine(cmd, {}, 'root', 'nul\0byte\n'), undefined);
  assert.equal(sessionLine(cmd, {}, 'root', Buffer.from([0xff, 0x0a])), undefined, 'not UTF-8');
  assert.equal(sessionLine(cmd, {}, 'root', `${'x'.repeat(SESSION_STDIN_MAX)}\n`), undefined, 'too large');
  assert.equal(sessionLine(cmd, {}, 'root', ''), undefined);
  assert.ok(sessionLine(cmd, {}, 'root', 'fine\n'));
  assert.equal(sessionLine(cmd, {}, 'root'), 'cat', 'no stdin: the line itself');
});

test('an answer is complete only once both streams have the marker and its line end', () => {
  const m = Buffer.from(MARKER);
  const out = Buffer.from(`hello${MARKER} 0\nnext`);
  assert.equal(takeAnswer(Buffer.from(`hello${MARKER} 0`), Buffer.from(`${MARKER}\n`), m), undefined, 'status line not complete');
  assert.equal(takeAnswer(out, Buffer.from('warn'), m), undefined, 'stderr marker not there yet');
  const got = takeAnswer(out, Buffer.from(`warn${MARKER}\n`), m)!;
  assert.deepEqual([got.result.code, got.result.stdout.toString(), got.result.stderr.toString(), got.out.toString(), got.err.toString()], [0, 'hello', 'warn', 'next', '']);
});
