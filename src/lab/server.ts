/** One lab server: its root filesystem, the files that make it itself, and starting and stopping it. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { baseFor, baseReady, type Base } from './base.js';
import { INIT_PATH } from './init-script.js';
import { ensureHostKey, writeAtomic } from './keys.js';
import { LAUNCH_SCRIPT } from './launch.js';
import { serverPaths, type LabPaths, type ServerPaths } from './paths.js';
import { childrenOf, isAlive, processStart, runOk, waitFor } from './proc.js';
import { sshAnswers } from './ports.js';
import type { ServerRecord } from './types.js';

export function isRunning(rec: ServerRecord): boolean {
  return isAlive(rec.pid, rec.pidStart);
}

/**
 * Make the server's writable layer ready on the given base. An overlay upper dir is only
 * meaningful over the base it was made on: when that base is gone (the recipe changed and the
 * old one was removed), the server starts fresh on the current base.
 */
export async function prepareRoot(paths: LabPaths, rec: ServerRecord, current: Base, log: (line: string) => void): Promise<Base> {
  const sp = serverPaths(paths, rec.name);
  let base = baseFor(paths.cache, rec.base);
  if (rec.base !== current.hash && !baseReady(base)) {
    log(`${rec.name}: its base image ${rec.base} is gone; starting it afresh on ${current.hash}`);
    for (const dir of [sp.upper, sp.work, sp.root]) fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(path.join(sp.dir, 'copied'), { force: true });
    rec.base = current.hash;
    base = current;
  }
  fs.mkdirSync(sp.dir, { recursive: true });
  if (rec.mode === 'overlay') {
    for (const dir of [sp.upper, sp.work, sp.root]) fs.mkdirSync(dir, { recursive: true });
    // The work dir must be empty at mount time on some kernels; it only holds transient state.
    fs.rmSync(sp.work, { recursive: true, force: true });
    fs.mkdirSync(sp.work);
  } else {
    // The mark is written last: an interrupted copy is redone, not booted half-made.
    const copied = path.join(sp.dir, 'copied');
    if (!fs.existsSync(copied)) {
      fs.rmSync(sp.root, { recursive: true, force: true });
      fs.mkdirSync(sp.root, { recursive: true });
      await runOk(['cp', '-a', `${base.root}/.`, sp.root]);
      fs.writeFileSync(copied, `${base.hash}\n`);
    }
  }
  return base;
}

/**
 * Write a file into the server's writable layer. For an overlay that is the upper dir, whose
 * directories override the base's attributes, so each new parent copies mode and owner from the
 * base (a 0755 /root would differ from the image's 0700).
 */
function writeLayered(layer: string, lower: string, rel: string, content: string, mode: number): void {
  const parts = rel.split('/').filter(Boolean);
  let dir = layer;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    const st = fs.lstatSync(dir, { throwIfNoEntry: false });
    if (st?.isDirectory()) continue;
    if (st) fs.rmSync(dir, { force: true }); // an overlay whiteout or a stray file
    const like = fs.statSync(path.join(lower, path.relative(layer, dir)), { throwIfNoEntry: false });
    // sshd refuses keys in a ~/.ssh others can write to; keep it private as ssh itself would.
    const mode = like ? like.mode & 0o7777 : part === '.ssh' ? 0o700 : 0o755;
    fs.mkdirSync(dir, { mode });
    fs.chmodSync(dir, mode);
    if (like) fs.chownSync(dir, like.uid, like.gid);
  }
  const file = path.join(layer, rel);
  fs.rmSync(file, { force: true, recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
  fs.chownSync(file, 0, 0);
}

export interface Identity {
  clientKey: string;
  hostKey: { private: string; public: string };
}

export function sshdConfig(rec: ServerRecord): string {
  return [
    '# Written by `flight lab` at every start: this server listens on its own loopback address only.',
    `ListenAddress ${rec.address}:${rec.port}`,
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UseDNS no',
    'PidFile /run/sshd.pid',
    '',
  ].join('\n');
}

/** Files that differ per server, rewritten at every start (the machine's resolver may have changed). */
function seed(paths: LabPaths, rec: ServerRecord, base: Base, id: Identity): void {
  const sp = serverPaths(paths, rec.name);
  const layer = rec.mode === 'overlay' ? sp.upper : sp.root;
  const put = (rel: string, content: string, mode = 0o644) => writeLayered(layer, base.root, rel, content, mode);
  put('etc/ssh/ssh_host_ed25519_key', id.hostKey.private, 0o600);
  put('etc/ssh/ssh_host_ed25519_key.pub', `${id.hostKey.public}\n`);
  put('etc/ssh/sshd_config.d/flight-lab.conf', sshdConfig(rec));
  put('root/.ssh/authorized_keys', `${id.clientKey}\n`, 0o600);
  put('etc/hostname', `${rec.name}\n`);
  put('etc/hosts', `127.0.0.1\tlocalhost\n${rec.address}\t${rec.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`);
  put('etc/resolv.conf', fs.readFileSync('/etc/resolv.conf', 'utf8'));
}

function consoleTail(sp: ServerPaths): string {
  try {
    return fs.readFileSync(sp.console, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}

/** Start a stopped server and wait until its sshd greets. Fills in the record's PIDs. */
export async function launch(paths: LabPaths, rec: ServerRecord, base: Base, clientKey: string): Promise<void> {
  const sp = serverPaths(paths, rec.name);
  const hostKey = await ensureHostKey(sp.hostKey, rec.name);
  seed(paths, rec, base, { clientKey, hostKey });
  fs.writeFileSync(sp.console, `--- ${new Date().toISOString()} starting ${rec.name} at ${rec.address}\n`, { flag: 'a' });
  const script = path.join(paths.dir, 'launch.sh');
  if (!fs.existsSync(script) || fs.readFileSync(script, 'utf8') !== LAUNCH_SCRIPT) writeAtomic(script, LAUNCH_SCRIPT, 0o755);
  const out = fs.openSync(sp.console, 'a');
  const child = spawn(
    'unshare',
    [
      '--mount', '--pid', '--uts', '--fork', '--propagation', 'private',
      // If the unshare process is killed, its child (the server's PID 1) goes with it.
      '--kill-child=SIGKILL',
      '--', 'sh', script, rec.mode, sp.root, base.root, sp.upper, sp.work, rec.name, INIT_PATH,
    ],
    { detached: true, stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  const unsharePid = child.pid;
  child.on('error', () => {});
  child.unref();
  if (!unsharePid) throw new Error(`${rec.name}: could not run unshare`);
  rec.unsharePid = unsharePid;
  rec.unshareStart = processStart(unsharePid);
  rec.pid = null;
  rec.pidStart = null;
  const unshareAlive = () => processStart(unsharePid) !== null;
  await waitFor(() => childrenOf(unsharePid).length > 0 || !unshareAlive(), 5000, 10);
  const pid = childrenOf(unsharePid)[0];
  if (pid) {
    rec.pid = pid;
    rec.pidStart = processStart(pid);
  }
  const up = await waitFor(async () => !unshareAlive() || (await sshAnswers(rec.address, rec.port, 500)), 20_000, 50);
  if (!up || !unshareAlive() || !isRunning(rec)) {
    await stop(rec);
    throw new Error(`${rec.name} did not start (sshd on ${rec.address}:${rec.port} never answered); its console says:\n${consoleTail(sp)}`);
  }
}

/** Stop a server: SIGTERM to its PID 1 (it passes it on), SIGKILL if it lingers; wait until every process is gone. */
export async function stop(rec: ServerRecord): Promise<void> {
  const pids = [
    { pid: rec.pid, start: rec.pidStart },
    { pid: rec.unsharePid, start: rec.unshareStart },
  ];
  const signal = (sig: NodeJS.Signals) => {
    for (const p of pids) {
      // Only PID 1 gets SIGTERM: unshare would pass it on as SIGKILL (--kill-child) with no grace.
      if ((sig === 'SIGKILL' || p.pid === rec.pid) && isAlive(p.pid, p.start)) {
        try {
          process.kill(p.pid!, sig);
        } catch {
          // already gone
        }
      }
    }
  };
  const gone = () => pids.every((p) => !isAlive(p.pid, p.start));
  signal('SIGTERM');
  if (!(await waitFor(gone, 5000, 20))) {
    signal('SIGKILL');
    await waitFor(gone, 5000, 20);
  }
  rec.pid = null;
  rec.pidStart = null;
  rec.unsharePid = null;
  rec.unshareStart = null;
}
