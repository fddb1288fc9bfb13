/** The connection layer: everything above it imports from here and sees only `Connection`. */
import type { Host } from '../inventory/types.js';
import { LocalConnection } from './local.js';
import type { SshConnectOptions } from './ssh-connect.js';
import { SshConnection } from './ssh.js';
import type { Connection } from './types.js';

export type { Connection, ExecOptions, ExecResult, PutOptions } from './types.js';
export { ConnectionPool } from './pool.js';
export { LocalConnection } from './local.js';
export { SshConnection } from './ssh.js';
export type { SshConnectOptions, SshTuning } from './ssh-connect.js';
export * as knownHosts from './known-hosts.js';

/** A connection for one-off use (a CLI verb touching one host); close it when done. */
export async function openConnection(host: Host, opts: SshConnectOptions = {}): Promise<Connection> {
  if (host.connection === 'local') return new LocalConnection(host.name);
  return SshConnection.connect(host, opts);
}
