/**
 * docs/servers.md ("From the lab to your servers"), followed as written on a server of a lab of
 * its own (127.0.0.30) that already serves a site from /var/www the way a server before Flight
 * does: its `sh` blocks run in order, the ones marked "on each server, as root" on the server
 * over ssh as root, the others in a definitions folder on this machine with `flight` on the PATH
 * and a HOME of their own (so `~/.ssh` and `~/secrets` are the guide's). Between the blocks, each
 * claim the guide makes is checked on the server itself. Every block of the guide must be run
 * here: a command added to the guide without its proof fails this test.
 *
 * After the guide's first block root can no longer log in (its key is taken away): everything
 * after that reaches the server as `deploy` through sudo, Flight included.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { quote } from '../../src/command.js';
import { FLIGHT_BIN, ROOT } from '../../lab-kit/cli.js';
import { httpGet } from '../../lab-kit/http.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { privateLab } from '../support/flight.js';
import { labSkipReason } from '../support/lab.js';

const skip = labSkipReason() ?? false;
const GUIDE = path.join(ROOT, 'docs', 'servers.md');
const ON_SERVER = '# on each server, as root';
const DOMAIN = 'shop.flight.test';
const LEGACY = 'legacy.flight.test';

interface Block {
  text: string;
  onServer: boolean;
  ran: boolean;
}

/** The guide's `sh` blocks, in order, their list indentation taken off. */
function guideBlocks(): Block[] {
  const md = fs.readFileSync(GUIDE, 'utf8');
  return [...md.matchAll(/^( *)```sh\n([\s\S]*?)^\1```$/gm)].map((m) => {
    const text = m[2]!.split('\n').map((l) => l.slice(m[1]!.length)).join('\n').trim();
    return { text, onServer: text.split('\n')[0] === ON_SERVER, ran: false };
  });
}

/** A shell on this machine, for the guide's control-machine lines. */
function sh(line: string, env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => out.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out: Buffer.concat(out).toString('utf8') }));
  });
}

test('the guide from the lab to real servers, followed as written', { skip, timeout: 25 * 60_000 }, async (t) => {
  const { work, repo, lab } = await privateLab(t, { name: 'guide', first: '127.0.0.30', servers: 1, app: 'laravel' });
  const root = lab.servers[0]!;
  const deploy: LabServer = { ...root, user: 'deploy' };
  const blocks = guideBlocks();

  // The guide's machine: a HOME with the key where flight.yml says, no known_hosts yet; the
  // definitions folder (the current directory of every command); `flight` on the PATH.
  const home = path.join(work, 'home');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
  fs.copyFileSync(root.key, path.join(home, '.ssh', 'flight_deploy'));
  fs.chmodSync(path.join(home, '.ssh', 'flight_deploy'), 0o600);
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'flight'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(FLIGHT_BIN)} "$@"\n`, { mode: 0o755 });
  const defs = path.join(work, 'defs');
  fs.mkdirSync(path.join(defs, 'clusters'), { recursive: true });
  fs.mkdirSync(path.join(defs, 'apps'));
  // flight.yml is the guide's own block.
  const flightYml = /```yaml\n(# flight\.yml\n[\s\S]*?)```/.exec(fs.readFileSync(GUIDE, 'utf8'))?.[1];
  assert.ok(flightYml, 'the guide shows flight.yml');
  fs.writeFileSync(path.join(defs, 'flight.yml'), flightYml);
  fs.writeFileSync(path.join(defs, 'clusters', 'production.yml'), [
    'php: ["8.2"]',
    'servers:',
    '  - name: web-1',
    `    host: ${root.address}`,
    '    web_server: true',
    `    listen: ${root.address}`,
    `    ssh: { port: ${root.port} }`,
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(defs, 'apps', 'shop.yml'), [
    `repo: ${JSON.stringify(repo.dir)}`,
    'cluster: production',
    'php: "8.2"',
    `domain: ${DOMAIN}`,
    'release_commands: [artisan config:cache, artisan route:cache, artisan view:cache]',
    'shared: [storage/app/public, storage/framework/cache, storage/framework/sessions, storage/logs, .env]',
    'health_check: { path: /health, status: 200, timeout: 5 }',
    'servers:',
    '  - name: web-1',
    // The sync connection has nothing to pop: the worker idles, which is all removal needs.
    '    queues: [{ name: default, command: "queue:work sync --sleep=3", workers: 1, stop_wait_timeout: 5 }]',
    '    scheduler: true',
    '',
  ].join('\n'));
  const avatar = `avatar-${randomBytes(4).toString('hex')}`;
  const secret = randomBytes(12).toString('hex');
  fs.mkdirSync(path.join(home, 'secrets'));
  fs.writeFileSync(path.join(home, 'secrets', 'shop.env'),
    `APP_NAME=shop\nAPP_ENV=production\nAPP_KEY=base64:${randomBytes(32).toString('base64')}\nAPP_GREETING=${secret}\nCACHE_DRIVER=file\nSESSION_DRIVER=file\nQUEUE_CONNECTION=sync\nLOG_CHANNEL=single\n`, { mode: 0o600 });
  const env = { ...process.env, HOME: home, PATH: `${bin}:${process.env.PATH}`, SHA: repo.shas[0]!, CI: '1', FORCE_COLOR: '0' };

  /**
   * Run the guide's block that holds `marker` (each block once, in the guide's order);
   * `afterLine(i)` checks what line i of a control-machine block claims before the next runs.
   */
  const follow = async (marker: string, afterLine?: (i: number, out: string) => Promise<void>): Promise<string> => {
    const i = blocks.findIndex((b) => b.text.includes(marker));
    assert.ok(i >= 0, `docs/servers.md has a block with '${marker}'`);
    assert.ok(blocks.slice(0, i).every((b) => b.ran), `the blocks before '${marker}' ran first`);
    const b = blocks[i]!;
    b.ran = true;
    if (b.onServer) {
      const r = await sshRun(b === blocks[0] ? root : deploy, b === blocks[0] ? `set -e\n${b.text}` : `sudo -n sh -ec ${quote(b.text)}`);
      assert.equal(r.code, 0, `on the server:\n${b.text}\n${r.stdout}${r.stderr}`);
      return r.stdout;
    }
    let out = '';
    for (const [i, line] of b.text.split('\n').entries()) {
      const r = await sh(line, env, defs);
      out += r.out;
      assert.equal(r.code, 0, `$ ${line}\n${r.out}`);
      await afterLine?.(i, r.out);
    }
    return out;
  };
  /** A command on the server as root, through deploy's sudo; its stdout. */
  const onServer = async (cmd: string, ok = true): Promise<string> => {
    const r = await sshRun(deploy, `sudo -n sh -c ${quote(cmd)}`);
    if (ok) assert.equal(r.code, 0, `${cmd}\n${r.stderr}`);
    return r.stdout;
  };
  const page = async (host: string) => httpGet(root.address, host, '/');

  await t.test('a server that already serves a site and an app from /var/www', async () => {
    const r = await sshRun(root, [
      'set -e',
      'DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null',
      'mkdir -p /var/www/legacy /var/www/shop/storage/app/public',
      'echo "the legacy site" > /var/www/legacy/index.html',
      `echo ${avatar} > /var/www/shop/storage/app/public/avatar.txt`,
      `printf 'server {\\n  listen ${root.address}:80;\\n  server_name ${LEGACY};\\n  root /var/www/legacy;\\n}\\n' > /etc/nginx/sites-available/legacy`,
      'ln -s /etc/nginx/sites-available/legacy /etc/nginx/sites-enabled/legacy',
      'test -L /etc/nginx/sites-enabled/default',
    ].join('\n'));
    assert.equal(r.code, 0, r.stderr);
  });

  await t.test('a deploy user with passwordless sudo; root no longer logs in', async () => {
    await follow('useradd --create-home --shell /bin/bash deploy');
    assert.equal((await sshRun(root, 'mv /root/.ssh/authorized_keys /root/.ssh/authorized_keys.off')).code, 0);
    assert.notEqual((await sshRun(root, 'true')).code, 0, 'root is refused');
    assert.equal((await onServer('id -un')).trim(), 'root', 'deploy becomes root with sudo -n');
  });

  await t.test('the first contact records the host key and changes nothing; then strict: the default site goes, the legacy site stays', async () => {
    const looks = 'ls /etc/nginx/sites-enabled; dpkg -l | grep -c "^ii  php" || true';
    const before = await onServer(looks);
    const known = path.join(home, '.ssh', 'known_hosts');
    assert.ok(!fs.existsSync(known), 'no known host yet');
    const strict = await sh('flight provision production', env, defs);
    assert.notEqual(strict.code, 0, 'an unknown host key is refused');
    assert.match(strict.out, /host key/i);
    assert.ok(!fs.existsSync(known) || fs.readFileSync(known, 'utf8') === '', 'strict records nothing');

    await follow('flight provision production --host-key-policy accept-new --check', async (i) => {
      if (i !== 0) return;
      const recorded = fs.readFileSync(known, 'utf8');
      const labKey = fs.readFileSync(root.knownHosts, 'utf8').split('\n').find((l) => l.includes(root.address))!.split(' ').slice(-2).join(' ');
      assert.ok(recorded.includes(labKey), `the server's own key is recorded: ${recorded}`);
      assert.equal(await onServer(looks), before, '--check changed nothing');
    });
    assert.equal((await onServer('ls /etc/nginx/sites-enabled')).trim(), 'legacy', "nginx's default link is the one thing removed");
    assert.match((await page(LEGACY)).body, /the legacy site/);
    assert.match(await onServer('grep "Accepted publickey for" /var/log/sshd.log | tail -n 3'), /for deploy/, 'Flight logs in as deploy');
  });

  await t.test("moving the app in from /var/www: its files in shared/, its env, a release", async () => {
    await follow('flight app:configure shop');
    await follow('cp -a /var/www/shop/storage/app/public');
    await follow('flight app:release shop "$SHA"');
    const res = await page(DOMAIN);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, new RegExp(`sha: ${repo.shas[0]}`));
    assert.match(res.body, new RegExp(`greeting: ${secret}`), 'the pushed env is the one in use');
    assert.equal((await onServer('sudo -n -u shop cat /home/shop/current/storage/app/public/avatar.txt')).trim(), avatar, "the moved file is in the release's storage");
    assert.match((await page(LEGACY)).body, /the legacy site/, 'the legacy site still serves');
  });

  await t.test('env:pull writes the env outside the definitions folder, 0600', async () => {
    fs.rmSync(path.join(home, 'secrets', 'shop.env'));
    await follow('flight env:pull shop --out ~/secrets/shop.env');
    const pulled = path.join(home, 'secrets', 'shop.env');
    assert.match(fs.readFileSync(pulled, 'utf8'), new RegExp(`APP_GREETING=${secret}`));
    assert.equal(fs.statSync(pulled).mode & 0o777, 0o600);
    assert.deepEqual(fs.readdirSync(defs).sort(), ['apps', 'clusters', 'flight.yml'], 'nothing written into the definitions folder');
  });

  await t.test('app:remove: refused without --yes, --check changes nothing, then the app goes and its files are saved', async () => {
    const state = 'ls /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/php/8.2/fpm/pool.d /etc/supervisor/conf.d /etc/cron.d; id shop; ls -a /home/shop; ls /var/backups/flight 2>&1; ps -o user= -u shop | sort -u';
    const before = await onServer(state);
    assert.match(before, /^shop$/m, 'the worker and the pool run as shop');
    const unconfirmed = await sh('flight app:remove shop', env, defs);
    assert.equal(unconfirmed.code, 5, unconfirmed.out);
    assert.match(unconfirmed.out, /add --yes/);
    assert.equal(await onServer(state), before, 'a refused removal touches nothing');

    await follow('flight app:remove shop --yes', async (i, out) => {
      if (i === 0) {
        assert.equal(await onServer(state), before, '--check changes nothing');
        assert.match(out, /would/);
      }
      if (i !== 1) return;
      const backup = /\/var\/backups\/flight\/shop-[0-9a-f]+\.tar\.gz/.exec(out)?.[0];
      assert.ok(backup, `the run names the saved files:\n${out}`);
      assert.equal((await onServer(`stat -c '%a %U' ${backup} /var/backups/flight`)).trim(), '600 root\n700 root');
      const listing = await onServer(`tar -tzf ${backup}`);
      for (const f of ['shared/.env', 'shared/storage/app/public/avatar.txt']) assert.match(listing, new RegExp(`^${f}$`, 'm'), `${f} is saved`);
      assert.match(await onServer(`tar -xzOf ${backup} shared/.env`), new RegExp(`APP_GREETING=${secret}`));
      assert.equal((await onServer('id shop >/dev/null 2>&1 && echo user; getent group shop >/dev/null && echo group; ps -o pid= -u shop | grep -q . && echo processes; true')).trim(), '', 'no user, group or process of the app');
      const files = await onServer('ls /home /etc/nginx/sites-enabled /etc/nginx/sites-available /etc/php/8.2/fpm/pool.d /etc/supervisor/conf.d /etc/cron.d');
      assert.doesNotMatch(files, /shop/, `no home, vhost, pool, program or cron file of the app is left:\n${files}`);
      assert.equal((await page(DOMAIN)).status, 404, "the domain no longer reaches the app (Flight's default server answers)");
      assert.match((await page(LEGACY)).body, /the legacy site/, 'the legacy site still serves');
    });
    assert.deepEqual(fs.readdirSync(path.join(defs, 'apps')), [], 'the definition is gone');
    assert.ok(blocks.every((b) => b.ran), `every command of the guide was followed: ${blocks.filter((b) => !b.ran).map((b) => b.text).join(' | ')}`);
  });
});
