/**
 * Whether lab tests can run here, and the default lab they share, brought up once per test
 * process; plus an ssh check that fails the test when the command does not succeed.
 */
import assert from 'node:assert/strict';
import { labUp } from '../../src/lab/index.js';
import { sshRun, type LabServer } from '../../lab-kit/ssh.js';

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

/** Run on a server with the system ssh client and insist it worked; returns stdout. */
export async function onHost(s: LabServer, command: string): Promise<string> {
  const r = await sshRun(s, command);
  assert.equal(r.code, 0, `${s.name}: ${command}\n${r.stderr}`);
  return r.stdout;
}
