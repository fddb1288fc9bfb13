/**
 * Opening an SSH client to a host: the tuning, where to connect (the host, or its jump host),
 * the host key checked against known_hosts under the host's policy (and recorded for
 * accept-new), the credentials (a key file or the agent), errors said in words, and the tunnel
 * through a jump host. The connection that runs commands on the client is ssh.ts.
 */
import { appendFileSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig } from 'ssh2';
import { messageOf, unreachable } from '../errors.js';
import type { Host, HostKeyPolicy } from '../inventory/types.js';
import {
  checkHostKey,
  fingerprint,
  formatKnownHostsLine,
  hostKeyAlgorithms,
  keyTypeOf,
  knownKeyTypes,
  lookupName,
  parseKnownHosts,
} from './known-hosts.js';

const { Client } = ssh2;

export interface SshTuning {
  /**
   * Channels open at once on one connection (default 8), the shell session's included.
   * OpenSSH's MaxSessions defaults to 10; staying below it leaves room for sessions the server
   * has not reaped yet. A server that allows fewer makes the connection lower its limit on the
   * first refusal (see run()).
   */
  maxChannels?: number;
  /** Run calls in one long-lived shell session (default true); false: an exec request per call. */
  shellSession?: boolean;
  /** SSH-level keepalive: a dead peer is noticed after interval * countMax. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
}

export interface SshConnectOptions extends SshTuning {
  /**
   * An open connection to the host's jump server, shared by every host behind it (the pool does
   * this). Without it a host with `ssh.jump` gets a bastion connection of its own.
   */
  bastion?: SshClient;
}

export function resolveTuning(t: SshTuning): Required<SshTuning> {
  return {
    maxChannels: t.maxChannels ?? 8,
    keepaliveIntervalMs: t.keepaliveIntervalMs ?? 10_000,
    keepaliveCountMax: t.keepaliveCountMax ?? 3,
    shellSession: t.shellSession ?? true,
  };
}

/** One SSH endpoint to log in to: a target host or its bastion. */
interface Endpoint {
  /** How messages name it: `web-1 (root@10.0.0.5:22)`. */
  label: string;
  address: string;
  port: number;
  user: string;
  key?: string;
  knownHosts: string;
  policy: HostKeyPolicy;
  connectTimeoutMs: number;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

function knownHostsPath(host: Host): string {
  return expandHome(host.ssh.knownHosts ?? path.join(os.homedir(), '.ssh', 'known_hosts'));
}

export function targetEndpoint(host: Host): Endpoint {
  const s = host.ssh;
  return {
    label: `${host.name} (${s.user}@${host.address}:${s.port})`,
    address: host.address,
    port: s.port,
    user: s.user,
    key: s.key,
    knownHosts: knownHostsPath(host),
    policy: s.hostKeyPolicy,
    connectTimeoutMs: s.connectTimeout * 1000,
  };
}

function bastionEndpoint(host: Host): Endpoint {
  const j = host.ssh.jump!;
  return {
    label: `${host.name} via jump host ${j.user}@${j.host}:${j.port}`,
    address: j.host,
    port: j.port,
    user: j.user,
    key: j.key,
    knownHosts: knownHostsPath(host),
    policy: host.ssh.hostKeyPolicy,
    connectTimeoutMs: host.ssh.connectTimeout * 1000,
  };
}

/** A key for sharing bastion connections between hosts that use the same one. */
export function bastionKey(host: Host): string | undefined {
  const j = host.ssh.jump;
  if (!j) return undefined;
  return JSON.stringify([j.user, j.host, j.port, j.key ?? '', knownHostsPath(host), host.ssh.hostKeyPolicy]);
}

function readKnownHosts(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** accept-new: record a first-seen key, creating ~/.ssh (0700) and the file (0600) if needed. */
function appendKnownHost(file: string, address: string, port: number, key: Buffer): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const existing = readKnownHosts(file);
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
  appendFileSync(file, `${sep}${formatKnownHostsLine(address, port, key)}\n`, { mode: 0o600 });
}

/**
 * Judge the key the server presented against known_hosts under the policy. Returns a refusal
 * message, or undefined to accept. Every refusal names the host and the file, because the
 * operator's next step is to look at (or fix) exactly that line.
 */
function verifyHostKey(ep: Endpoint, key: Buffer): string | undefined {
  if (ep.policy === 'off') return undefined;
  // Read at verification time, not before connecting: a sibling connection with accept-new
  // may have just recorded this host (a bastion that is also a target).
  const entries = parseKnownHosts(readKnownHosts(ep.knownHosts));
  const st = checkHostKey(entries, ep.address, ep.port, key);
  const name = lookupName(ep.address, ep.port);
  const presented = `${keyTypeOf(key) ?? 'unknown-type'} ${fingerprint(key)}`;
  switch (st.status) {
    case 'known':
      return undefined;
    case 'revoked':
      return `host key ${presented} for ${name} is marked @revoked in ${ep.knownHosts} (line ${st.line}); refusing to connect`;
    case 'mismatch':
      return (
        `HOST KEY MISMATCH for ${name}: the server presented ${presented}, but ${ep.knownHosts} ` +
        `(line ${st.lines.join(', ')}) holds a different ${st.knownTypes.join('/')} key. The connection may be ` +
        `intercepted, or the server was rebuilt; if so remove the old entry with ` +
        `\`ssh-keygen -R '${name}' -f ${ep.knownHosts}\`. Refusing to connect`
      );
    case 'unknown':
      if (ep.policy === 'strict') {
        return (
          `host key for ${name} is not in ${ep.knownHosts} (host key policy strict); the server presented ` +
          `${presented}. Add it after checking the fingerprint (ssh-keyscan -p ${ep.port} ${ep.address}), ` +
          `or connect once with the accept-new policy`
        );
      }
      appendKnownHost(ep.knownHosts, ep.address, ep.port, key);
      return undefined;
  }
}

function authConfig(ep: Endpoint): Pick<ConnectConfig, 'privateKey' | 'agent'> {
  const agent = process.env.SSH_AUTH_SOCK || undefined;
  let keyFile = ep.key ? expandHome(ep.key) : undefined;
  if (!keyFile && !agent) {
    // What `ssh` would try on its own when nothing is configured.
    keyFile = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(os.homedir(), '.ssh', f)).find((f) => existsSync(f));
    if (!keyFile) throw new Error('no key file is set, no ssh-agent is running (SSH_AUTH_SOCK) and ~/.ssh has no id_* key');
  }
  let privateKey: Buffer | undefined;
  if (keyFile) {
    try {
      privateKey = readFileSync(keyFile);
    } catch (err) {
      throw new Error(`cannot read key file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}`);
    }
  }
  // The agent stays as a fallback after the key file, as with ssh's IdentityFile.
  return { privateKey, agent };
}

function describeConnectError(err: unknown, ep: Endpoint): string {
  const e = err as Error & { code?: string; level?: string };
  const where = `${ep.address}:${ep.port}`;
  if (e.level === 'client-timeout') return `no SSH handshake within ${ep.connectTimeoutMs / 1000}s from ${where}`;
  if (e.level === 'client-authentication') {
    return `authentication as ${ep.user} failed (${ep.key ? `key file ${ep.key}` : 'no key file'}${process.env.SSH_AUTH_SOCK ? ', ssh-agent' : ''})`;
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${where} (is sshd running and listening there?)`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `no route to ${where}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${ep.address}`;
    case 'ETIMEDOUT':
      return `connect to ${where} timed out`;
    case 'ECONNRESET':
      return `connection reset by ${where}`;
  }
  return e.message || String(err);
}

/** Log in to one endpoint; resolves once authenticated. Every failure is `unreachable`. */
export function connectClient(ep: Endpoint, tuning: Required<SshTuning>, sock?: Duplex): Promise<SshClient> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let refusal: string | undefined;
    let settled = false;
    const fail = (reason: string, cause?: unknown) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(unreachable(`${ep.label}: ${reason}`, cause));
    };
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      resolve(client);
    });
    client.on('error', (err) => fail(refusal ?? describeConnectError(err, ep), err));
    client.on('close', () => fail(refusal ?? 'the connection closed during the SSH handshake'));

    try {
      const algorithms =
        ep.policy === 'off'
          ? undefined
          : {
              serverHostKey: hostKeyAlgorithms(
                knownKeyTypes(parseKnownHosts(readKnownHosts(ep.knownHosts)), ep.address, ep.port),
              ) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'],
            };
      const cfg: ConnectConfig = {
        host: ep.address,
        port: ep.port,
        username: ep.user,
        ...authConfig(ep),
        readyTimeout: ep.connectTimeoutMs,
        keepaliveInterval: tuning.keepaliveIntervalMs,
        keepaliveCountMax: tuning.keepaliveCountMax,
        algorithms,
        hostVerifier: (key: Buffer) => {
          try {
            refusal = verifyHostKey(ep, key);
          } catch (err) {
            refusal = `cannot check the host key against ${ep.knownHosts}: ${messageOf(err)}`;
          }
          return refusal === undefined;
        },
        ...(sock ? { sock } : {}),
      };
      client.connect(cfg);
    } catch (err) {
      // A bad key file or an unparsable private key is thrown synchronously by ssh2.
      fail(messageOf(err), err);
      return;
    }
    // Small request/response packets: Nagle's delay would add tens of ms to every exec.
    if (!sock) client.setNoDelay(true);
  });
}

/** Log in to a host's jump server; the pool shares the result between hosts behind it. */
export function openBastion(host: Host, tuning: SshTuning = {}): Promise<SshClient> {
  if (!host.ssh.jump) throw new Error(`${host.name} has no jump host`);
  return connectClient(bastionEndpoint(host), resolveTuning(tuning));
}

export function tunnel(bastion: SshClient, host: Host): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    const ep = bastionEndpoint(host);
    try {
      bastion.forwardOut('127.0.0.1', 0, host.address, host.ssh.port, (err, stream) => {
        if (err) reject(unreachable(`${ep.label}: the jump host could not open a tunnel to ${host.address}:${host.ssh.port}: ${err.message}`, err));
        else resolve(stream);
      });
    } catch (err) {
      reject(unreachable(`${ep.label}: the jump host connection is gone: ${messageOf(err)}`, err));
    }
  });
}
