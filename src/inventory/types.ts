/** The inventory as the runner sees it: hosts with their connection settings and variables. */

export type HostKeyPolicy = 'strict' | 'accept-new' | 'off';

export interface SshSettings {
  user: string;
  port: number;
  /** Private key file; when absent, ssh-agent (SSH_AUTH_SOCK) is used. */
  key?: string;
  /** known_hosts file; default ~/.ssh/known_hosts. */
  knownHosts?: string;
  hostKeyPolicy: HostKeyPolicy;
  /** A bastion to tunnel through, ProxyJump-style. */
  jump?: { host: string; port: number; user: string; key?: string };
  /** Seconds to wait for the TCP connect and handshake. */
  connectTimeout: number;
}

export interface Host {
  name: string;
  /** Address or DNS name to connect to. */
  address: string;
  /** 'local' runs on the control machine (delegate_to: localhost, the `localhost` host). */
  connection: 'ssh' | 'local';
  ssh: SshSettings;
  /** Host variables: cluster settings, the server entry, the apps on this host. */
  vars: Record<string, unknown>;
  groups: string[];
}

export interface Inventory {
  hosts: Map<string, Host>;
  /** group name -> host names, in definition order. */
  groups: Map<string, string[]>;
  /** Ansible host patterns: `web`, `lab-1`, `a:b`, `a:&b`, `a:!b`, `*`, `lab-*`. */
  select(pattern: string): Host[];
}
