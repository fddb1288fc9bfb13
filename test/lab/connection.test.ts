/**
 * The connection layer against real sshd servers (the local lab), over real SSH.
 * Figures (handshake, no-op exec, 50 concurrent execs) are printed as test diagnostics.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { argv, script } from '../../src/command.js';
import { ConnectionPool, LocalConnection, SshConnection, openConnection } from '../../src/connection/index.js';
import type { Connection } from '../../src/connection/types.js';
import { FlightError } from '../../src/errors.js';
import type { Host } from '../../src/inventory/types.js';
import { labHosts, sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { ensureLab, labSkipReason } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Drop the connection from the host's side: kill -9 the sshd process that serves it, the
 * nearest sshd above the command (its parent for an exec request, further up in the shell session).
 */
const KILL_OWN_SSHD = script('p=$PPID; while [ "$p" -gt 1 ] && [ "$(cut -d" " -f2 "/proc/$p/stat")" != "(sshd)" ]; do p=$(cut -d" " -f4 "/proc/$p/stat"); done; kill -9 "$p"');

function withSsh(host: Host, patch: Partial<Host['ssh']>, name = host.name): Host {
  return { ...host, name, ssh: { ...host.ssh, ...patch } };
}

async function rejectsUnreachable(p: Promise<unknown>, ...mustMention: string[]): Promise<FlightError> {
  const err = await p.then(
    () => assert.fail('expected an unreachable error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof FlightError, `a FlightError, got ${String(err)}`);
  assert.equal(err.kind, 'unreachable', err.message);
  for (const m of mustMention) assert.ok(err.message.includes(m), `message mentions ${m}: ${err.message}`);
  return err;
}

describe('ssh connection (lab)', { skip }, () => {
  let lab: LabServer[];
  let hosts: Host[];
  let conn: SshConnection;
  let tmp: string;

  before(async () => {
    lab = servers!;
    hosts = labHosts(lab);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'flight-conn-'));
    const t0 = process.hrtime.bigint();
    conn = await SshConnection.connect(hosts[0]!);
    console.log(`handshake+login: ${ms(t0).toFixed(1)} ms`);
  });
  after(async () => {
    await conn?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('returns exit codes, stdout and stderr', async () => {
    assert.deepEqual(await conn.exec(argv('echo', 'hello')), { code: 0, stdout: 'hello\n', stderr: '' });
    const r = await conn.exec(script('echo out; echo err >&2; exit 3'));
    assert.deepEqual(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
    const missing = await conn.exec(argv('/nonexistent/command'));
    assert.equal(missing.code, 127);
  });

  it('reports a signal death as 128+N', async () => {
    const r = await conn.exec(script('kill -TERM $$'));
    assert.equal(r.code, 143);
  });

  it('writes stdin and closes it', async () => {
    assert.equal((await conn.exec(argv('cat'), { stdin: 'line 1\nline 2\n' })).stdout, 'line 1\nline 2\n');
    // No stdin given: the command must see EOF, not hang.
    assert.equal((await conn.exec(argv('cat'))).stdout, '');
    const big = randomBytes(3 * 1024 * 1024);
    const r = await conn.exec(argv('sha256sum'), { stdin: big });
    assert.equal(r.stdout.split(' ')[0], createHash('sha256').update(big).digest('hex'));
  });

  it('passes hostile values through argv unharmed', async () => {
    const marker = `/tmp/flight-injected-${process.pid}`;
    const nasty = `a'b"c $(touch ${marker}) \`touch ${marker}\` ; touch ${marker} \\ \n second line\t* ~ $HOME %s`;
    const r = await conn.exec(argv('printf', '%s', nasty));
    assert.equal(r.stdout, nasty);
    const s = await conn.exec(script('printf "%s|%s" "$1" "$2"', nasty, '-n'));
    assert.equal(s.stdout, `${nasty}|-n`);
    // Also through become's extra layer of sh -c and through cwd.
    const b = await conn.exec(argv('printf', '%s', nasty), { become: 'nobody', cwd: '/' });
    assert.equal(b.stdout, nasty);
    assert.equal((await sshRun(lab[0]!, `test -e ${marker}; echo $?`)).stdout.trim(), '1', 'nothing was injected');
  });

  it('runs in cwd', async () => {
    assert.equal((await conn.exec(argv('pwd'), { cwd: '/usr/share' })).stdout, '/usr/share\n');
    const r = await conn.exec(argv('pwd'), { cwd: '/does/not/exist' });
    assert.notEqual(r.code, 0);
  });

  it('round-trips binary data through put and get, with mode and owner', async () => {
    const data = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(512 * 1024)]);
    const file = `/tmp/flight put 'test' ${process.pid}.bin`;
    await conn.put(file, data, { mode: 0o640, owner: 'nobody', group: 'nogroup' });
    const st = await sshRun(lab[0]!, `stat -c '%a %U %G %s' "/tmp/flight put 'test' ${process.pid}.bin" && sha256sum "/tmp/flight put 'test' ${process.pid}.bin"`);
    const [meta, sum] = st.stdout.trim().split('\n');
    assert.equal(meta, `640 nobody nogroup ${data.length}`);
    assert.equal(sum!.split(' ')[0], createHash('sha256').update(data).digest('hex'));
    assert.ok((await conn.get(file)).equals(data));

    // Overwrite an existing world-readable file with a secret and a restrictive mode.
    await conn.put(file, 'secret\n', { mode: 0o600 });
    assert.equal((await sshRun(lab[0]!, `stat -c '%a %U' "/tmp/flight put 'test' ${process.pid}.bin"`)).stdout.trim(), '600 nobody');
    assert.equal((await conn.get(file)).toString(), 'secret\n');
    await conn.exec(argv('rm', '-f', file));
  });

  it('puts and gets as another user, and reports failures as errors', async () => {
    const file = `/tmp/flight-nobody-${process.pid}`;
    await conn.put(file, 'mine', { become: 'nobody' });
    assert.equal((await sshRun(lab[0]!, `stat -c '%U' ${file}`)).stdout.trim(), 'nobody');
    assert.equal((await conn.get(file, { become: 'nobody' })).toString(), 'mine');
    await assert.rejects(conn.put('/root/not-allowed', 'x', { become: 'nobody' }), (e: unknown) => {
      assert.ok(e instanceof FlightError && e.kind === 'failed' && e.message.includes('/root/not-allowed'), String(e));
      return true;
    });
    await assert.rejects(conn.get('/nonexistent/file'), /No such file/);
    await conn.exec(argv('rm', '-f', file));
  });

  it('becomes another user', async () => {
    assert.equal((await conn.exec(argv('id', '-un'))).stdout.trim(), lab[0]!.user);
    assert.equal((await conn.exec(argv('id', '-un'), { become: 'nobody' })).stdout.trim(), 'nobody');
    assert.equal((await conn.exec(argv('id', '-un'), { become: true })).stdout.trim(), 'root');
    const home = (await conn.exec(script('echo "$HOME"'), { become: 'nobody' })).stdout.trim();
    assert.equal(home, '/nonexistent');
  });

  it('runs 50 concurrent execs on one connection', async () => {
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => conn.exec(script('sleep 0.05; echo "$1"', String(i)))),
    );
    const elapsed = ms(t0);
    results.forEach((r, i) => assert.deepEqual(r, { code: 0, stdout: `${i}\n`, stderr: '' }));
    console.log(`50 concurrent execs (each sleeping 50 ms, at most 8 channels open): ${elapsed.toFixed(1)} ms`);
    const t1 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: 50 }, () => conn.exec(argv('true'))));
    console.log(`50 concurrent no-op execs: ${ms(t1).toFixed(1)} ms`);
  });

  it('adapts when the server refuses channels (more asked for than its MaxSessions)', async () => {
    const greedy = await SshConnection.connect(hosts[0]!, { maxChannels: 14 });
    try {
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => greedy.exec(script('sleep 0.1; echo "$1"', String(i)))),
      );
      results.forEach((r, i) => assert.equal(r.stdout, `${i}\n`));
    } finally {
      await greedy.close();
    }
  });

  it('runs calls one after another in one shell session; binary stdin and calls made meanwhile use channels', async () => {
    // A call's parent is a subshell of the session's loop (`eval` in its arguments), whose
    // parent, the loop, is the same one call after call.
    const loopOf = argv('sh', '-c', 'gp=$(cut -d" " -f4 "/proc/$PPID/stat"); printf "%s " "$gp"; tr "\\0" " " < "/proc/$PPID/cmdline"');
    const a = (await conn.exec(loopOf)).stdout;
    const b = (await conn.exec(loopOf)).stdout;
    assert.match(a, /^\d+ sh -c .*eval "c=; \$c"/s, a);
    assert.doesNotMatch(a, /FLIGHT-END/, 'the marker is not in the loop\'s arguments');
    assert.equal(a.split(' ')[0], b.split(' ')[0], 'the same session');
    // Small text stdin rides in the session (a here-document); stdin it cannot carry (here: no
    // final newline), or a call while the session is busy: an exec request of its own.
    const parent = argv('sh', '-c', 'cat; tr "\\0" " " < "/proc/$PPID/cmdline"');
    const textIn = (await conn.exec(parent, { stdin: 'A=1\n' })).stdout;
    assert.match(textIn, /^A=1\nsh -c .*eval "c=; \$c"/s);
    const withStdin = (await conn.exec(parent, { stdin: 'x' })).stdout;
    assert.match(withStdin, /^x/);
    assert.doesNotMatch(withStdin, /eval "c=; \$c"/);
    const [busy, meanwhile] = await Promise.all([conn.exec(script('sleep 0.3; echo busy')), conn.exec(script('echo "$PPID"'))]);
    assert.equal(busy.stdout, 'busy\n');
    assert.match(meanwhile.stdout, /^\d+\n$/);
    // Turned off: every call is an exec request.
    const plain = await SshConnection.connect(hosts[0]!, { shellSession: false });
    try {
      assert.doesNotMatch((await plain.exec(loopOf)).stdout, /eval "c=; \$c"/);
    } finally {
      await plain.close();
    }
  });

  it('costs a few milliseconds per no-op exec on an open connection', async () => {
    const handshakes: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = process.hrtime.bigint();
      await (await SshConnection.connect(hosts[0]!)).close();
      handshakes.push(ms(t0));
    }
    for (let i = 0; i < 5; i++) await conn.exec(argv('true'));
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = process.hrtime.bigint();
      await conn.exec(argv('true'));
      times.push(ms(t0));
    }
    console.log(
      `no-op exec: median ${median(times).toFixed(2)} ms, min ${Math.min(...times).toFixed(2)} ms over ${times.length}; ` +
        `handshake+login: median ${median(handshakes).toFixed(1)} ms`,
    );
    // Relative, not absolute, so a loaded machine does not fail it: a call that paid for a
    // handshake (or waited out Nagle's delay) could not come in under the cheapest handshake.
    assert.ok(median(times) < Math.min(...handshakes), `exec median ${median(times)} ms, handshakes ${handshakes.join(', ')} ms`);
  });

  it('times out a command, ends it on the host, and stays usable', async () => {
    const isTimeout = (e: unknown) => {
      assert.ok(e instanceof FlightError && e.kind === 'failed' && /timed out after 0.3s: sleep 77/.test(e.message), String(e));
      return true;
    };
    const t0 = process.hrtime.bigint();
    await assert.rejects(conn.exec(argv('sleep', '77'), { timeoutMs: 300 }), isTimeout);
    await assert.rejects(conn.exec(script('sleep 77 | cat'), { timeoutMs: 300, become: 'nobody' }), /timed out/);
    assert.ok(ms(t0) < 4000, `took ${ms(t0)} ms`);
    // The whole process group is gone, pipelines and other users' commands included.
    assert.equal((await sshRun(lab[0]!, 'pgrep -f "slee[p] 77" || echo none')).stdout.trim(), 'none');
    assert.equal((await conn.exec(argv('echo', 'ok'), { timeoutMs: 5000 })).stdout, 'ok\n');
  });

  it('rejects pending calls with unreachable when the connection drops', async () => {
    const c = await SshConnection.connect(hosts[1]!);
    const pending = c.exec(argv('sleep', '30'));
    const killer = c.exec(KILL_OWN_SSHD);
    await rejectsUnreachable(pending, hosts[1]!.name, 'connection lost');
    await rejectsUnreachable(killer, hosts[1]!.name);
    assert.equal(c.alive, false);
    await rejectsUnreachable(c.exec(argv('true')), hosts[1]!.name);
    await c.close();
  });

  it('fails fast, naming the host, when nothing listens', async () => {
    const ghost = { ...withSsh(hosts[0]!, { port: 22 }, 'ghost-1'), address: '127.0.0.250' };
    const t0 = process.hrtime.bigint();
    await rejectsUnreachable(SshConnection.connect(ghost), 'ghost-1', '127.0.0.250', 'refused');
    assert.ok(ms(t0) < 2000, `took ${ms(t0)} ms`);
  });

  it('reports a wrong key as an authentication failure', async () => {
    const keyFile = path.join(tmp, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      await rejectsUnreachable(SshConnection.connect(withSsh(hosts[0]!, { key: keyFile })), hosts[0]!.name, 'authentication');
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });

  it('logs in with a key from ssh-agent when no key file is set', async () => {
    const out = execFileSync('ssh-agent', ['-s', '-a', path.join(tmp, 'agent.sock')], { encoding: 'utf8' });
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      process.env.SSH_AUTH_SOCK = path.join(tmp, 'agent.sock');
      execFileSync('ssh-add', ['-q', lab[0]!.key], { env: process.env, stdio: 'ignore' });
      const c = await SshConnection.connect(withSsh(hosts[0]!, { key: undefined }));
      assert.equal((await c.exec(argv('echo', 'agent'))).stdout, 'agent\n');
      await c.close();
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      process.kill(pid);
    }
  });

  describe('host keys', () => {
    const otherKey = () => {
      const keyFile = path.join(tmp, `hk-${Math.random().toString(36).slice(2)}`);
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
      return readFileSync(`${keyFile}.pub`, 'utf8').split(' ').slice(0, 2).join(' ');
    };

    it('strict refuses a host whose key differs from known_hosts', async () => {
      const kh = path.join(tmp, 'kh-mismatch');
      writeFileSync(kh, `${lab[0]!.address} ${otherKey()}\n`);
      const err = await rejectsUnreachable(SshConnection.connect(withSsh(hosts[0]!, { knownHosts: kh })), hosts[0]!.name, kh, 'MISMATCH');
      assert.match(err.message, /SHA256:/);
      // accept-new never overrides a changed key either.
      await rejectsUnreachable(SshConnection.connect(withSsh(hosts[0]!, { knownHosts: kh, hostKeyPolicy: 'accept-new' })), 'MISMATCH');
    });

    it('strict refuses an unknown host; accept-new records it; strict then accepts', async () => {
      const kh = path.join(tmp, 'sub', 'known_hosts'); // the folder does not exist yet
      await rejectsUnreachable(SshConnection.connect(withSsh(hosts[0]!, { knownHosts: kh })), hosts[0]!.name, kh, 'not in');
      const c = await SshConnection.connect(withSsh(hosts[0]!, { knownHosts: kh, hostKeyPolicy: 'accept-new' }));
      await c.close();
      const lines = readFileSync(kh, 'utf8').trim().split('\n');
      assert.equal(lines.length, 1);
      assert.ok(lines[0]!.startsWith(`${lab[0]!.address} `), lines[0]);
      const again = await SshConnection.connect(withSsh(hosts[0]!, { knownHosts: kh }));
      assert.equal((await again.exec(argv('echo', 'ok'))).stdout, 'ok\n');
      await again.close();
      assert.equal(readFileSync(kh, 'utf8').trim().split('\n').length, 1, 'a known key is not appended twice');
    });

    it('off skips the check', async () => {
      const kh = path.join(tmp, 'kh-off');
      writeFileSync(kh, `${lab[0]!.address} ${otherKey()}\n`);
      const c = await SshConnection.connect(withSsh(hosts[0]!, { knownHosts: kh, hostKeyPolicy: 'off' }));
      await c.close();
    });
  });

  it('tunnels through a jump host', async () => {
    const [bastion, target] = [lab[0]!, hosts[1]!];
    const host = withSsh(target, { jump: { host: bastion.address, port: bastion.port, user: bastion.user, key: bastion.key } });
    const c = await openConnection(host);
    try {
      const direct = await sshRun(lab[1]!, 'hostname');
      assert.equal((await c.exec(argv('hostname'))).stdout, direct.stdout);
      const r = await c.exec(script('echo "$SSH_CONNECTION"'));
      // Through the tunnel the target sees the bastion's sshd as the client.
      assert.ok(r.stdout.startsWith('127.0.0.1 ') || r.stdout.startsWith(`${bastion.address} `), r.stdout);
    } finally {
      await c.close();
    }
    // A target the bastion cannot reach is unreachable too, named, with the bastion's reason.
    const ghost: Host = { ...host, name: 'ghost-3', address: '127.0.0.252' };
    await rejectsUnreachable(openConnection(ghost), 'ghost-3', 'tunnel', '127.0.0.252:22');
  });
});

describe('connection pool (lab)', { skip }, () => {
  it('opens exactly one connection per host across many concurrent calls', async () => {
    const hosts = labHosts(servers!);
    const pool = new ConnectionPool();
    try {
      const t0 = process.hrtime.bigint();
      const rounds = await Promise.all(
        Array.from({ length: 20 }, () =>
          Promise.all(hosts.map(async (h) => (await pool.get(h)).exec(argv('hostname')))),
        ),
      );
      console.log(`pool: 20 tasks x ${hosts.length} hosts, concurrently: ${ms(t0).toFixed(1)} ms`);
      assert.equal(pool.opened, hosts.length);
      for (const round of rounds) for (const r of round) assert.equal(r.code, 0);
      const a = await pool.get(hosts[0]!);
      assert.equal(await pool.get(hosts[0]!), a, 'the same connection every time');
      assert.equal(pool.opened, hosts.length);
    } finally {
      await pool.closeAll();
    }
  });

  it('shares one bastion between hosts behind it and gives local hosts a LocalConnection', async () => {
    const [b, ...rest] = servers!;
    const jump = { host: b!.address, port: b!.port, user: b!.user, key: b!.key };
    const hosts = labHosts(rest).map((h) => withSsh(h, { jump }));
    const pool = new ConnectionPool();
    try {
      const outs = await Promise.all(hosts.map(async (h) => (await (await pool.get(h)).exec(argv('hostname'))).stdout));
      assert.equal(outs.length, rest.length);
      assert.equal(pool.opened, rest.length);
      assert.equal(pool.bastionsOpened, 1);
      const local = await pool.get({ ...hosts[0]!, name: 'localhost', connection: 'local' });
      assert.ok(local instanceof LocalConnection);
      assert.equal(pool.opened, rest.length, 'local connections are not SSH connections');
    } finally {
      await pool.closeAll();
    }
  });

  it('replaces a dropped connection and does not cache a failed open', async () => {
    const hosts = labHosts(servers!);
    const pool = new ConnectionPool();
    try {
      const c1 = await pool.get(hosts[2]!);
      await c1.exec(KILL_OWN_SSHD).catch(() => {});
      await rejectsUnreachable(c1.exec(argv('true')));
      const c2 = await pool.get(hosts[2]!);
      assert.notEqual(c2, c1);
      assert.equal((await c2.exec(argv('echo', 'back'))).stdout, 'back\n');
      assert.equal(pool.opened, 2);
      const ghost: Host = { ...hosts[0]!, name: 'ghost-2', address: '127.0.0.251' };
      await rejectsUnreachable(pool.get(ghost), 'ghost-2');
      await rejectsUnreachable(pool.get(ghost), 'ghost-2');
    } finally {
      await pool.closeAll();
    }
  });
});

describe('local connection', () => {
  let c: Connection;
  let tmp: string;
  before(() => {
    c = new LocalConnection();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'flight-local-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('runs the same command lines as ssh', async () => {
    assert.deepEqual(await c.exec(script('echo out; echo err >&2; exit 4')), { code: 4, stdout: 'out\n', stderr: 'err\n' });
    assert.equal((await c.exec(argv('cat'), { stdin: 'in' })).stdout, 'in');
    assert.equal((await c.exec(argv('pwd'), { cwd: tmp })).stdout, `${tmp}\n`);
    const nasty = `x'y"$(echo no)\n\`echo no\``;
    assert.equal((await c.exec(argv('printf', '%s', nasty))).stdout, nasty);
    assert.equal(c.loginUser, os.userInfo().username);
  });

  it('puts and gets bytes with a mode', async () => {
    const data = randomBytes(100_000);
    const file = path.join(tmp, 'a file');
    await c.put(file, data, { mode: 0o600 });
    assert.ok((await c.get(file)).equals(data));
    assert.equal((await c.exec(argv('stat', '-c', '%a', file))).stdout.trim(), '600');
  });

  it('times out', async () => {
    await assert.rejects(c.exec(argv('sleep', '10'), { timeoutMs: 200 }), /timed out/);
  });

  it('becomes another user when root', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
    assert.equal((await c.exec(argv('id', '-un'), { become: 'nobody' })).stdout.trim(), 'nobody');
  });
});
