/**
 * SSH settings of a host, from layers: built-in defaults < flight.yml `ssh` < the server's `ssh`
 * (or, for inventory files, the host's merged variables).
 */
import os from 'node:os';
import path from 'node:path';
import type { SshOptions } from '../definitions/types.js';
import type { SshSettings } from './types.js';

export function builtinSsh(): SshSettings {
  return {
    user: 'root',
    port: 22,
    knownHosts: path.join(os.homedir(), '.ssh', 'known_hosts'),
    hostKeyPolicy: 'strict',
    connectTimeout: 10,
  };
}

/**
 * Later layers win key by key. A `jump` replaces the whole jump of earlier layers (`false`
 * removes it); its unset port is 22, and its unset user and key are the host's own, the usual
 * case of one deploy key that opens both the bastion and the servers.
 */
export function mergeSsh(...layers: (SshOptions | undefined)[]): SshSettings {
  const out = builtinSsh();
  let jump: SshOptions['jump'];
  for (const l of layers) {
    if (!l) continue;
    if (l.user !== undefined) out.user = l.user;
    if (l.port !== undefined) out.port = l.port;
    if (l.key !== undefined) out.key = l.key;
    if (l.known_hosts !== undefined) out.knownHosts = l.known_hosts;
    if (l.host_key_policy !== undefined) out.hostKeyPolicy = l.host_key_policy;
    if (l.connect_timeout !== undefined) out.connectTimeout = l.connect_timeout;
    if (l.jump !== undefined) jump = l.jump;
  }
  if (jump) {
    out.jump = {
      host: jump.host,
      port: jump.port ?? 22,
      user: jump.user ?? out.user,
      ...(jump.key ?? out.key ? { key: jump.key ?? out.key } : {}),
    };
  }
  return out;
}
