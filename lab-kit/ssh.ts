/**
 * Reaching lab servers from outside Flight: as inventory hosts for code that connects with
 * Flight's own connection, and with the system ssh client, so that what a server holds can be
 * checked (or measured) independently of Flight's connection code.
 */
import { spawn } from 'node:child_process';
import type { Host } from '../src/inventory/types.js';
import type { LabServerInfo } from '../src/lab/types.js';

/** A lab server as seen from outside: how to reach it, and whether it is a web server. */
export type LabServer = Pick<LabServerInfo, 'name' | 'address' | 'port' | 'user' | 'key' | 'knownHosts' | 'web'>;

/** The lab servers as inventory Hosts (connection 'ssh', hostKeyPolicy 'strict', connectTimeout 10, vars {}, groups ['all']). */
export function labHosts(servers: LabServer[]): Host[] {
  return servers.map((s) => ({
    name: s.name,
    address: s.address,
    connection: 'ssh' as const,
    ssh: {
      user: s.user,
      port: s.port,
      key: s.key,
      knownHosts: s.knownHosts,
      hostKeyPolicy: 'strict' as const,
      connectTimeout: 10,
    },
    vars: {},
    groups: ['all'],
  }));
}

/** ssh options that check the server's host key against the lab's known_hosts and ignore any user config. */
export function sshArgs(server: LabServer): string[] {
  return [
    '-F', 'none',
    '-i', server.key,
    '-p', String(server.port),
    '-o', 'IdentitiesOnly=yes',
    '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${server.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'ConnectTimeout=10',
    '-o', 'LogLevel=ERROR',
    `${server.user}@${server.address}`,
  ];
}

/**
 * Run a command on a lab server with the system ssh client (for verifying state independently of
 * Flight's own connection code). Returns {code, stdout, stderr}.
 */
export async function sshRun(server: LabServer, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshArgs(server), '--', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 255),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}
