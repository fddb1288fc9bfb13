/** The connection layer: everything above it imports from here and sees only `Connection`. */
import type { Host } from '../inventory/types.js';
import { LocalConnection } from './local.js';
import { SshConnection, type SshConnectOptions } from './ssh.js';
import type { Connection } from './types.js';

export type { Connection, ExecOptions, ExecResult, PutOptions } from './types.js';
export { ConnectionPool } from './pool.js';
export { LocalConnection } from './local.js';
export { SshConnection, type SshConnectOptions, type SshTuning } from './ssh.js';
export * as knownHosts from './known-hosts.js';

/** A connection for one-off use (a CLI verb touching one host); close it when done. */
export async function openConnection(host: Host, opts: SshConnectOptions = {}): Promise<Connection> {
  if (host.connection === 'local') return new LocalConnection(host.name);
  return SshConnection.connect(host, opts);
}
