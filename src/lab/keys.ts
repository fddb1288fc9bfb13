/** The lab's SSH material: one client key for root on every server, one host key per server, and a known_hosts with them all. */
import fs from 'node:fs';
import path from 'node:path';
import type { LabPaths } from './paths.js';
import { runOk } from './proc.js';

async function keygen(file: string, comment: string): Promise<void> {
  if (fs.existsSync(file) && fs.existsSync(`${file}.pub`)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}.pub`, { force: true });
  await runOk(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

export async function ensureClientKey(paths: LabPaths): Promise<string> {
  fs.mkdirSync(paths.sshDir, { recursive: true, mode: 0o700 });
  await keygen(paths.key, 'flight-lab');
  return fs.readFileSync(paths.publicKey, 'utf8').trim();
}

/** The server's host key pair, made once and kept with the server so its identity survives restarts. */
export async function ensureHostKey(file: string, name: string): Promise<{ private: string; public: string }> {
  await keygen(file, `root@${name}`);
  return { private: fs.readFileSync(file, 'utf8'), public: fs.readFileSync(`${file}.pub`, 'utf8').trim() };
}

/** Replace a file atomically, so a concurrent reader (a test's ssh) never sees half of it. */
export function writeAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

export interface KnownServer {
  name: string;
  address: string;
  port: number;
  /** `ssh-ed25519 AAAA... comment` */
  hostKey: string;
}

export function writeKnownHosts(paths: LabPaths, servers: KnownServer[]): void {
  const lines = servers.map((s) => {
    const [type, key] = s.hostKey.split(/\s+/);
    const host = s.port === 22 ? s.address : `[${s.address}]:${s.port}`;
    return `${host} ${type} ${key}`;
  });
  writeAtomic(paths.knownHosts, lines.length ? `${lines.join('\n')}\n` : '');
}

/** An ssh_config naming each server, so `ssh -F <dir>/ssh/config lab-1` just works. */
export function writeSshConfig(paths: LabPaths, servers: KnownServer[]): void {
  const blocks = servers.map((s) =>
    [
      `Host ${s.name}`,
      `  HostName ${s.address}`,
      `  Port ${s.port}`,
      '  User root',
      `  IdentityFile ${paths.key}`,
      '  IdentitiesOnly yes',
      `  UserKnownHostsFile ${paths.knownHosts}`,
      '  StrictHostKeyChecking yes',
    ].join('\n'),
  );
  writeAtomic(paths.sshConfig, `# Written by \`flight lab\`.\n${blocks.join('\n\n')}\n`);
}
