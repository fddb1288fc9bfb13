/**
 * Shared helpers for every test that runs against the local lab: bring the default lab up once,
 * describe its servers as inventory hosts, and check server state with the system ssh client.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { Host } from '../../src/inventory/types.js';
import { labUp } from '../../src/lab/index.js';
import type { LabServerInfo } from '../../src/lab/types.js';

/** A lab server as tests see it: how to reach it, and whether it is a web server. */
export type LabServer = Pick<LabServerInfo, 'name' | 'address' | 'port' | 'user' | 'key' | 'knownHosts' | 'web'>;

let pending: Promise<LabServer[] | null> | undefined;

/** Why lab tests cannot run here, or undefined when they can. */
export function labSkipReason(): string | undefined {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'lab tests need root: `flight lab` runs servers in their own namespaces (run the tests as root, as CI does)';
  }
  return undefined;
}

/**
 * Brings the default lab (3 servers, default state dir) up if it is not, idempotently; returns its
 * servers, or null when not root (caller skips with the reason from labSkipReason()).
 * Servers that a failure test stopped are started again; running ones are left alone.
 */
export async function ensureLab(): Promise<LabServer[] | null> {
  if (labSkipReason()) return null;
  // Progress goes to stderr: a cold machine spends a minute or more building the base image.
  pending ??= labUp({ servers: 3, log: (line) => process.stderr.write(`# flight lab: ${line}\n`) }).then(
    (result) =>
      result.servers.map((s) => ({
        name: s.name,
        address: s.address,
        port: s.port,
        user: s.user,
        key: s.key,
        knownHosts: s.knownHosts,
        web: s.web,
      })),
    (err: unknown) => {
      pending = undefined; // let a later test try again rather than replay the failure
      throw err;
    },
  );
  const servers = await pending;
  // A test in this process may have stopped a server since the first call: bring it back.
  pending = undefined;
  return servers;
}

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

/** Run on a server with the system ssh client and insist it worked; returns stdout. */
export async function onHost(s: LabServer, command: string): Promise<string> {
  const r = await sshRun(s, command);
  assert.equal(r.code, 0, `${s.name}: ${command}\n${r.stderr}`);
  return r.stdout;
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
