/**
 * The lab itself: a second, private lab (its own state dir, addresses from 127.0.0.200) goes up,
 * answers over ssh with strict host key checking, stops and starts one server, and goes down
 * leaving no process and no mount. The default lab that other tests use is never touched.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { labDown, labPaths, labStart, labStatus, labStop, labUp, type LabServerInfo } from '../../src/lab/index.js';
import { serverAddresses } from '../../src/lab/addresses.js';
import { isWeb, renderClusterFile } from '../../src/lab/cluster-file.js';
import { labSources, parseDeb822, parseOneLine, renderDeb822 } from '../../src/lab/sources.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { labSkipReason } from '../support/lab.js';

describe('lab: pure parts', () => {
  test('addresses count up from the first and stay in 127.0.0.0/8', () => {
    assert.deepEqual(serverAddresses('127.0.0.2', 3), ['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    assert.deepEqual(serverAddresses('127.0.0.254', 3), ['127.0.0.254', '127.0.0.255', '127.0.1.0']);
    assert.equal(serverAddresses('127.0.0.2', 60).at(-1), '127.0.0.61');
    assert.throws(() => serverAddresses('127.0.0.1', 1), /127\.0\.0\.2/);
    assert.throws(() => serverAddresses('10.0.0.2', 1), /127\.0\.0\.2/);
    assert.throws(() => serverAddresses('127.0.0.x', 1), /not an IPv4/);
  });

  test('all servers but the last are web servers; a lone server is one', () => {
    assert.deepEqual([1, 2, 3].map((i) => isWeb(i, 3)), [true, true, false]);
    assert.equal(isWeb(1, 1), true);
  });

  test('the cluster file has the exact shape Flight reads', () => {
    const text = renderClusterFile(
      [
        { name: 'lab-1', address: '127.0.0.2', port: 22, web: true },
        { name: 'lab-2', address: '127.0.0.3', port: 22, web: false },
      ],
      '/s/ssh/id_ed25519',
      '/s/ssh/known_hosts',
    );
    assert.equal(
      text,
      [
        "# Written by `flight lab up`: the local lab's servers.",
        'php: ["8.2"]',
        'request_duration: 30',
        'request_payload: 10',
        'request_memory: 256',
        'servers:',
        '  - name: lab-1',
        '    host: 127.0.0.2',
        '    web_server: true',
        '    listen: 127.0.0.2',
        '    ssh: { user: root, port: 22, key: /s/ssh/id_ed25519, known_hosts: /s/ssh/known_hosts }',
        '  - name: lab-2',
        '    host: 127.0.0.3',
        '    web_server: false',
        '    ssh: { user: root, port: 22, key: /s/ssh/id_ed25519, known_hosts: /s/ssh/known_hosts }',
        '    database: { clients: ["127.0.0.1"] }',
        '    redis: true',
        '',
      ].join('\n'),
    );
  });

  test('apt sources are read in both formats, third-party ones left out', () => {
    const deb822 = parseDeb822(
      [
        'Types: deb',
        'URIs: http://mirror.example/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main contrib',
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        '',
        'Types: deb-src',
        'URIs: http://mirror.example/debian',
        'Suites: bookworm',
        'Components: main',
        '',
        'Types: deb',
        'URIs: https://deb.nodesource.com/node_20.x',
        'Suites: nodistro',
        'Components: main',
      ].join('\n'),
    );
    const oneLine = parseOneLine(
      '# comment\ndeb [signed-by=/k.gpg arch=amd64] http://security.example/debian-security bookworm-security main\n',
    );
    assert.equal(deb822.length, 2);
    assert.deepEqual(oneLine[0]?.suites, ['bookworm-security']);
    const picked = labSources([...deb822, ...oneLine], 'bookworm');
    assert.deepEqual(picked.map((s) => s.uris[0]), ['http://mirror.example/debian', 'http://security.example/debian-security']);
    assert.match(renderDeb822(picked), /^Types: deb\nURIs: http:\/\/mirror\.example\/debian\nSuites: bookworm bookworm-updates\nComponents: main\n/);
    // No Debian source at all: Debian's own mirror.
    assert.deepEqual(labSources([], 'bookworm')[0]?.uris, ['http://deb.debian.org/debian']);
  });
});

const skip = labSkipReason();
if (skip) console.log(`# skipping lab tests: ${skip}`);

describe('lab: a private two-server lab', { skip }, () => {
  let dir = '';
  let defs = '';
  let servers: LabServerInfo[] = [];
  let defaultBefore: LabServerInfo[] = [];
  const opts = () => ({ dir });
  const asLab = (s: LabServerInfo): LabServer => ({ ...s });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-lab-test-'));
    defs = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-lab-defs-'));
    defaultBefore = await labStatus();
  });

  after(async () => {
    if (dir) {
      await labDown({ dir, purge: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
    if (defs) fs.rmSync(defs, { recursive: true, force: true });
  });

  test('up starts the servers with sshd answering and writes the cluster file', async () => {
    const result = await labUp({ dir, servers: 2, first: '127.0.0.200', defs, port: 22 });
    servers = result.servers;
    assert.deepEqual(servers.map((s) => [s.name, s.address, s.web]), [['lab-1', '127.0.0.200', true], ['lab-2', '127.0.0.201', false]]);
    assert.deepEqual(result.started, ['lab-1', 'lab-2']);
    for (const s of servers) assert.ok(s.running && s.sshd && s.pid, `${s.name} runs and answers`);
    const cluster = fs.readFileSync(path.join(defs, 'clusters', 'lab.yml'), 'utf8');
    assert.match(cluster, /host: 127\.0\.0\.201\n    web_server: false\n    ssh: \{ user: root, port: 22, key: /);
    assert.ok(cluster.includes(`known_hosts: ${path.join(dir, 'ssh', 'known_hosts')} }`));
  });

  test('status lists the servers with sshd answering', async () => {
    const status = await labStatus(opts());
    assert.deepEqual(status.map((s) => [s.name, s.address, s.running, s.sshd]), [
      ['lab-1', '127.0.0.200', true, true],
      ['lab-2', '127.0.0.201', true, true],
    ]);
  });

  test('ssh logs in with strict host key checking, and each server has its own host key', async () => {
    const [one, two] = servers.map(asLab) as [LabServer, LabServer];
    const r = await sshRun(one, 'hostname; cat /proc/1/cmdline | tr "\\0" " "; echo; test -x /usr/sbin/policy-rc.d && /usr/sbin/policy-rc.d; echo policy=$?');
    assert.equal(r.code, 0, r.stderr);
    const [hostname, init, policy] = r.stdout.trim().split('\n');
    assert.equal(hostname, 'lab-1');
    assert.match(init!, /flight-lab-init/, 'PID 1 is the lab init, not sshd');
    assert.equal(policy, 'policy=101');
    // lab-2's key listed under lab-1's address must be refused: host keys really are checked.
    const wrong = path.join(dir, 'wrong_known_hosts');
    const twoKey = fs.readFileSync(two.knownHosts, 'utf8').split('\n').find((l) => l.startsWith(`${two.address} `))!;
    fs.writeFileSync(wrong, `${one.address} ${twoKey.split(' ').slice(1).join(' ')}\n`);
    const refused = await sshRun({ ...one, knownHosts: wrong }, 'true');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /host key|HOST IDENTIFICATION/i);
  });

  test('restarting sshd inside a server does not end it (PID 1 is not sshd)', async () => {
    const one = asLab(servers[0]!);
    const r = await sshRun(one, 'service ssh restart >/dev/null 2>&1; echo restarted');
    assert.equal(r.stdout.trim(), 'restarted', r.stderr);
    const again = await sshRun(one, 'pgrep -c -x sshd >/dev/null && echo ok');
    assert.equal(again.stdout.trim(), 'ok', again.stderr);
    assert.ok((await labStatus(opts()))[0]!.running);
  });

  test('up again keeps the running servers', async () => {
    const result = await labUp({ dir, servers: 2, first: '127.0.0.200', port: 22 });
    assert.deepEqual(result.started, []);
    assert.deepEqual(result.servers.map((s) => s.pid), servers.map((s) => s.pid));
  });

  test('stop and start one server', async () => {
    const two = asLab(servers[1]!);
    assert.deepEqual(await labStop('lab-2', opts()), { stopped: true });
    let status = await labStatus(opts());
    assert.deepEqual(status.map((s) => [s.name, s.running, s.sshd]), [['lab-1', true, true], ['lab-2', false, false]]);
    assert.notEqual((await sshRun(two, 'true')).code, 0, 'a stopped server does not answer');
    assert.equal(isGone(servers[1]!.pid!), true);

    const started = await labStart('lab-2', opts());
    assert.ok(started.running && started.sshd);
    assert.notEqual(started.pid, servers[1]!.pid);
    const r = await sshRun(two, 'hostname');
    assert.equal(r.stdout.trim(), 'lab-2', r.stderr);
    status = await labStatus(opts());
    assert.equal(status[0]!.pid, servers[0]!.pid, 'lab-1 was left alone');
    await assert.rejects(labStop('lab-9', opts()), /no lab server named lab-9/);
  });

  test('down leaves no process and no mount, and the default lab is untouched', async () => {
    const pids = (await labStatus(opts())).map((s) => s.pid!);
    const { stopped } = await labDown(opts());
    assert.deepEqual(stopped, ['lab-1', 'lab-2']);
    for (const pid of pids) assert.ok(isGone(pid), `PID ${pid} is gone`);
    const rooted = fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).filter((p) => {
      try {
        return fs.readlinkSync(`/proc/${p}/root`).startsWith(dir);
      } catch {
        return false;
      }
    });
    assert.deepEqual(rooted, [], 'no process runs inside the lab');
    const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(dir));
    assert.deepEqual(mounts, [], 'nothing is mounted under the lab');
    const status = await labStatus(opts());
    assert.ok(status.every((s) => !s.running && !s.sshd));

    // Other test files may stop and start default servers meanwhile, through the lab (which
    // records the new PID); a default server killed behind the lab's back would still be
    // recorded with its old, dead PID.
    const recorded = JSON.parse(fs.readFileSync(labPaths().state, 'utf8')) as { servers: { name: string; pid: number | null }[] };
    for (const before of defaultBefore.filter((s) => s.running)) {
      const now = recorded.servers.find((s) => s.name === before.name);
      assert.ok(!isGone(before.pid!) || now?.pid !== before.pid, `default ${before.name} was not killed`);
    }
  });
});

function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return /^\S+ \(.*\) [ZX]/.test(stat);
  } catch {
    return true;
  }
}
