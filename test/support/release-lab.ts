/**
 * Helpers for the release tests (zero downtime, failures, locks, rollback): an app file written
 * from a few settings, what each server serves (`current`, release dirs), checksums of an app's
 * shared/ files, and stopping and starting one lab server's SSH daemon while the rest of the
 * server (nginx, PHP-FPM) keeps running.
 *
 * Everything is checked with the system ssh client (sshRun), never through Flight's own code.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { script, toShell } from '../../src/command.js';
import { labStatus } from '../../src/lab/index.js';
import { REMOVE_SCRIPT } from '../../modules/user.js';
import type { FlightRun } from '../../lab-kit/cli.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';
import { onHost } from './lab.js';

export interface AppSpec {
  name: string;
  repo: string;
  domain: string;
  /** Lab servers the app runs on. */
  servers: string[];
  releaseCommands?: string[];
  shared?: string[];
  health?: { path: string; status: number; timeout: number } | null;
  keep?: number;
  /** Queue workers on one server (the fixture's queue:work). */
  queue?: { server: string; workers: number; stopWaitTimeout: number };
}

/** apps/NAME.yml for the lab cluster. JSON is valid YAML, so values are written with JSON.stringify. */
export function appYaml(a: AppSpec): string {
  const j = JSON.stringify;
  const lines = [
    `repo: ${j(a.repo)}`,
    'cluster: lab',
    'php: "8.2"',
    `domain: ${j(a.domain)}`,
    `release_commands: ${j(a.releaseCommands ?? [])}`,
    `shared: ${j(a.shared ?? ['storage/app/public', 'storage/framework/sessions', '.env'])}`,
  ];
  if (a.keep !== undefined) lines.push(`keep_releases: ${a.keep}`);
  if (a.health) lines.push(`health_check: ${j(a.health)}`);
  lines.push('servers:');
  for (const s of a.servers) {
    lines.push(`  - name: ${s}`);
    if (a.queue?.server === s) {
      lines.push(`    queues: [${j({ name: 'default', command: 'queue:work --sleep=1', workers: a.queue.workers, stop_wait_timeout: a.queue.stopWaitTimeout })}]`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Each server's `current` target (the release id), '' when there is none. */
export async function currents(servers: LabServer[], app: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(
    servers.map(async (s) => {
      const target = (await onHost(s, `readlink /home/${app}/current || true`)).trim();
      out[s.name] = target.split('/').pop() ?? '';
    }),
  );
  return out;
}

export interface ReleaseDir {
  id: string;
  /** Has REVISION (written last: the release was completely prepared). */
  complete: boolean;
  /** REVISION's content. */
  sha: string;
}

/** The directories in /home/APP/releases (hidden ones too: a staging copy must not linger either). */
export async function releaseDirs(s: LabServer, app: string): Promise<ReleaseDir[]> {
  const out = await onHost(
    s,
    `cd /home/${app}/releases 2>/dev/null || exit 0; for d in * .[!.]*; do [ -d "$d" ] || continue; printf '%s\\t%s\\n' "$d" "$(cat "$d/REVISION" 2>/dev/null)"; done`,
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id = '', sha = ''] = l.split('\t');
      return { id, complete: sha !== '', sha };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Release dirs of one commit (ids end with the sha's first 12 characters) on each server. */
export async function dirsOf(servers: LabServer[], app: string, sha: string): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const s of servers) out[s.name] = (await releaseDirs(s, app)).filter((d) => d.id.includes(sha.slice(0, 12))).map((d) => d.id);
  return out;
}

/**
 * Files an operator keeps in shared/: an upload, a session, and .env (with a line the page shows
 * as its greeting). Written as the app user, as the app would write them.
 */
export async function seedShared(servers: LabServer[], app: string, greeting: string): Promise<void> {
  for (const s of servers) {
    const upload = randomBytes(48 * 1024).toString('base64');
    const session = `a:1:{s:4:"user";s:${s.name.length}:"${s.name}";}`;
    const sid = randomBytes(16).toString('hex');
    // An APP_KEY for the Laravel app's cookies; sessions in memory, so a load of cookie-less
    // requests leaves shared/ as seeded.
    const env = `APP_NAME=${app}\nAPP_ENV=production\nAPP_KEY=base64:${randomBytes(32).toString('base64')}\nSESSION_DRIVER=array\nAPP_GREETING=${JSON.stringify(greeting)}\n`;
    await onHost(
      s,
      [
        'set -e',
        `cd /home/${app}/shared`,
        `install -d -o ${app} -g ${app} storage/app/public/avatars storage/framework/sessions`,
        `printf %s '${upload}' > storage/app/public/avatars/${s.name}.txt`,
        `printf %s '${session.replace(/'/g, `'\\''`)}' > storage/framework/sessions/sess_${sid}`,
        `printf %s '${env.replace(/'/g, `'\\''`)}' > .env`,
        `chown ${app}:${app} storage/app/public/avatars/${s.name}.txt storage/framework/sessions/sess_${sid} .env`,
        'chmod 0640 .env',
      ].join('\n'),
    );
  }
}

/**
 * sha256 of every regular file under /home/APP/shared, per server, plus how .env is stored (a
 * regular file must stay one: a release that replaced it with a link or a copy would be a loss).
 */
export async function sharedChecksums(servers: LabServer[], app: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of servers) {
    out[s.name] = await onHost(
      s,
      `cd /home/${app}/shared && stat -c '%F %U %a %n' .env && find . -type f -print0 | sort -z | xargs -0 -r sha256sum`,
    );
  }
  return out;
}

/** The number of files sharedChecksums covered on each server (so "nothing changed" is not "nothing there"). */
export function checksumCount(sums: Record<string, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(sums).map(([h, t]) => [h, t.split('\n').filter((l) => /^[0-9a-f]{64} /.test(l)).length]));
}

// ---------------------------------------------------------------------------------------------
// One server's SSH daemon

/** Host PID of a default-lab server's PID 1 (it changes when the server is restarted). */
export async function serverPid(name: string): Promise<number> {
  const info = (await labStatus()).find((s) => s.name === name);
  if (!info?.running || !info.pid) throw new Error(`lab server ${name} is not running`);
  return info.pid;
}

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/**
 * Stop every sshd process of one lab server of the default lab (the listener and each open
 * session, so Flight's connection drops as it would when the daemon dies), as `pkill sshd` on
 * the server would; nginx and PHP-FPM keep running. Done from this machine, inside the server's
 * namespaces, since no SSH is left to do it with.
 */
export async function stopSshd(name: string): Promise<void> {
  const pid = await serverPid(name);
  const ns = fs.readlinkSync(`/proc/${pid}/ns/pid`);
  const victims: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readlinkSync(`/proc/${entry}/ns/pid`) !== ns) continue;
      if (fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'sshd') continue;
      victims.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  if (!victims.length) throw new Error(`${name}: no sshd process found`);
  for (const p of victims) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

/** Whether the server's sshd answers (a login that runs `true`). */
export async function sshdAnswers(s: LabServer): Promise<boolean> {
  return (await sshRun(s, 'true')).code === 0;
}

/**
 * Start the server's sshd again, the way the server's PID 1 starts it (same binary and log
 * option), inside the server's namespaces and root; it daemonizes and PID 1 adopts it. Waits
 * until it lets us in.
 */
export async function startSshd(s: LabServer): Promise<void> {
  if (await sshdAnswers(s)) return;
  const pid = await serverPid(s.name);
  const r = await run('nsenter', ['--target', String(pid), '--mount', '--uts', '--pid', '--root', '--wd', '--', '/usr/sbin/sshd', '-E', '/var/log/sshd.log']);
  if (r.code !== 0) throw new Error(`${s.name}: starting sshd failed: ${r.out}`);
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    if (await sshdAnswers(s)) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`${s.name}: sshd did not come back`);
}

// ---------------------------------------------------------------------------------------------
// What a run said

/** Everything a run said to a person: failure messages of every host result, and stderr. */
export function runText(r: FlightRun): string {
  const msgs = r.events.flatMap((e) => (e.event === 'host_result' && e.msg ? [`${e.host}: ${e.task}: ${e.msg}`] : []));
  return [...msgs, r.stderr].join('\n');
}

/**
 * Remove everything an app left on lab servers in an earlier use of the lab (user, home,
 * PHP-FPM pool, vhost, workers, cron entry, database, password files), so a test that owns the
 * app starts from servers that never had it, whatever ran before.
 */
export async function forgetApp(servers: LabServer[], app: string): Promise<void> {
  if (!/^[a-z][a-z0-9_]*$/.test(app)) throw new Error(`not an app name: ${app}`);
  const cmd = [
    `rm -f /etc/supervisor/conf.d/${app}-*.conf /etc/cron.d/flight-${app}-scheduler /etc/nginx/sites-enabled/${app}.conf /etc/nginx/sites-available/${app}.conf /etc/php/*/fpm/pool.d/${app}.conf /etc/flight/mariadb/${app}.password /etc/flight/redis/${app}.password`,
    'supervisorctl update >/dev/null 2>&1',
    'for v in /etc/php/*/fpm; do service "php$(basename "$(dirname "$v")")-fpm" reload >/dev/null 2>&1; done',
    'nginx -s reload >/dev/null 2>&1',
    // The user module's own removal: its processes ended, the user, its group and its home gone.
    `{ ! id ${app} >/dev/null 2>&1 || ${toShell(script(REMOVE_SCRIPT, app, '1'))}; } || { echo "user ${app} could not be removed" >&2; exit 1; }`,
    `rm -rf /home/${app}`,
    // MariaDB is down on a lab just started (provision starts it): start it to drop the data.
    'command -v mariadbd >/dev/null && { mariadb-admin ping >/dev/null 2>&1 || service mariadb start >/dev/null 2>&1; }',
    `if mariadb-admin ping >/dev/null 2>&1; then mariadb -e "DROP DATABASE IF EXISTS \\\`${app}\\\`" && mariadb -N -e "SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = '${app}'" | mariadb; fi`,
    'true',
  ].join('; ');
  await Promise.all(servers.map(async (s) => {
    const r = await sshRun(s, cmd);
    assert.equal(r.code, 0, `${s.name}: forgetting ${app}: ${r.stderr}`);
  }));
}
