/**
 * One connection per host for the whole run. Every task asks the pool; only the first ask for a
 * host pays the handshake, and concurrent first asks share it. Hosts behind the same jump
 * server share one bastion connection too, so ten hosts behind a bastion cost eleven
 * handshakes, not twenty.
 */
import type { Client as SshClient } from 'ssh2';
import type { Host } from '../inventory/types.js';
import { LocalConnection } from './local.js';
import { bastionKey, openBastion, type SshTuning } from './ssh-connect.js';
import { SshConnection } from './ssh.js';
import type { Connection } from './types.js';

export class ConnectionPool {
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly bastions = new Map<string, Promise<SshClient>>();
  private openedCount = 0;
  private bastionCount = 0;

  constructor(private readonly tuning: SshTuning = {}) {}

  /** SSH connections to targets actually opened (successful logins), for tests and benchmarks. */
  get opened(): number {
    return this.openedCount;
  }

  /** Bastion (jump host) connections opened. */
  get bastionsOpened(): number {
    return this.bastionCount;
  }

  /**
   * The host's connection, opened on first use. A failed open is not remembered, and a
   * connection that has dropped is replaced on the next call: the runner decides whether an
   * unreachable host gets another try, the pool just does not hand out a dead connection.
   */
  get(host: Host): Promise<Connection> {
    const cached = this.conns.get(host.name);
    if (cached) {
      return cached.then((c) => (c instanceof SshConnection && !c.alive && this.conns.get(host.name) === cached ? this.reopen(host, cached) : c));
    }
    return this.open(host);
  }

  private reopen(host: Host, stale: Promise<Connection>): Promise<Connection> {
    if (this.conns.get(host.name) !== stale) return this.get(host);
    this.conns.delete(host.name);
    return this.open(host);
  }

  private open(host: Host): Promise<Connection> {
    const p = this.connect(host);
    this.conns.set(host.name, p);
    p.catch(() => {
      if (this.conns.get(host.name) === p) this.conns.delete(host.name);
    });
    return p;
  }

  private async connect(host: Host): Promise<Connection> {
    if (host.connection === 'local') return new LocalConnection(host.name);
    const bastion = host.ssh.jump ? await this.bastion(host) : undefined;
    const conn = await SshConnection.connect(host, { ...this.tuning, bastion });
    this.openedCount++;
    return conn;
  }

  private bastion(host: Host): Promise<SshClient> {
    const key = bastionKey(host)!;
    let p = this.bastions.get(key);
    if (!p) {
      p = openBastion(host, this.tuning);
      this.bastions.set(key, p);
      const mine = p;
      p.then(
        (client) => {
          this.bastionCount++;
          // A dropped bastion is forgotten so the next host behind it opens a fresh one.
          client.once('close', () => {
            if (this.bastions.get(key) === mine) this.bastions.delete(key);
          });
        },
        () => {
          if (this.bastions.get(key) === mine) this.bastions.delete(key);
        },
      );
    }
    return p;
  }

  /** Close every connection (targets first, then the bastions they tunnel through). */
  async closeAll(): Promise<void> {
    const conns = [...this.conns.values()];
    const bastions = [...this.bastions.values()];
    this.conns.clear();
    this.bastions.clear();
    await Promise.all(conns.map((p) => p.then((c) => c.close(), () => {})));
    await Promise.all(
      bastions.map((p) =>
        p.then(
          (client) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => {
                client.destroy();
                resolve();
              }, 2000);
              client.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              client.end();
            }),
          () => {},
        ),
      ),
    );
  }
}
