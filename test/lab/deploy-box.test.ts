/**
 * Installing Flight on a deploy box: the npm package installs `flight` and `flight-play`, and
 * `npm run build:sea`'s single executable runs with no Node.js on the machine: --version,
 * --help, and a --check of a built-in playbook against the lab. "No Node.js" is made real by
 * running the executable in a mount namespace where the node binary is /dev/null.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../../lab-kit/cli.js';
import { makeDefs, type TempDefs } from '../../lab-kit/defs.js';
import { ensureLab, labSkipReason } from '../support/lab.js';

const servers = await ensureLab();
const skip = servers ? false : (labSkipReason() ?? 'the lab is not available');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-box-'));
let defs: TempDefs | undefined;

before(async () => {
  if (!skip) defs = await makeDefs();
});
after(() => {
  defs?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('npm pack gives a package that installs flight and flight-play', { skip }, () => {
  // --ignore-scripts: prepack would rebuild dist/ under the running tests; it is built already.
  const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!;
  const prefix = path.join(tmp, 'prefix');
  const install = spawnSync('npm', ['install', '-g', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', prefix, path.join(tmp, tgz)], { encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);
  const run = (bin: string, ...args: string[]) => spawnSync(path.join(prefix, 'bin', bin), args, { encoding: 'utf8', cwd: tmp });
  assert.equal(run('flight', '--version').stdout.trim(), `flight ${pkg.version}`);
  assert.match(run('flight', '--help').stdout, /serve \[--host H\]/);
  assert.match(run('flight-play', '--help').stdout, /^Usage: flight-play PLAYBOOK/);
  const pb = run('flight-play', 'release', '--list-tasks');
  assert.equal(pb.status, 0, pb.stderr);
  assert.match(pb.stdout, /Take the deploy lock/);
});

test('npm run build:sea: one executable that runs without Node.js', { skip, timeout: 10 * 60_000 }, () => {
  const built = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-sea.mjs')], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const exe = path.join(tmp, 'flight');
  fs.copyFileSync(path.join(ROOT, 'build', 'flight'), exe);
  fs.chmodSync(exe, 0o755);
  fs.symlinkSync('flight', path.join(tmp, 'flight-play'));
  const cache = path.join(tmp, 'cache');
  // Hide node: the executable must not need it (nor this checkout: it runs from tmp).
  const noNode = (cmd: string) =>
    spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null ${JSON.stringify(process.execPath)} && ${cmd}`], {
      encoding: 'utf8', cwd: tmp, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: tmp, XDG_CACHE_HOME: cache, CI: '1' }, timeout: 5 * 60_000,
    });
  assert.match(noNode('node --version 2>/dev/null || echo no-node').stdout, /no-node/, 'node really is unavailable');
  const version = noNode(`${exe} --version`);
  assert.equal(version.stdout.trim(), `flight ${pkg.version}`, version.stderr);
  assert.equal(version.stderr, '', 'no warnings');
  const help = noNode(`${exe} --help`);
  assert.match(help.stdout, /app:release APP SHA/);
  assert.match(noNode(`${path.join(tmp, 'flight-play')} --help`).stdout, /^Usage: flight-play PLAYBOOK/);
  // A built-in playbook, with its templates, in check mode against the lab.
  const check = noNode(`${exe} provision lab --check --defs ${defs!.dir} --json`);
  assert.equal(check.status, 0, `${check.stdout.slice(-3000)}\n${check.stderr}`);
  const recap = check.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; hosts?: Record<string, { failed: number; unreachable: number }> }).find((e) => e.event === 'recap');
  assert.ok(recap?.hosts, 'a recap');
  assert.deepEqual(Object.keys(recap.hosts).sort(), ['lab-1', 'lab-2', 'lab-3']);
  for (const [h, s] of Object.entries(recap.hosts)) assert.equal(s.failed + s.unreachable, 0, h);
  // The built-in content was unpacked from the executable, not read from this checkout.
  assert.ok(fs.readdirSync(path.join(cache, 'flight')).some((d) => d.startsWith(`sea-${pkg.version}-`)));
});
