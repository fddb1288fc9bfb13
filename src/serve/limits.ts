/**
 * What a handful of clients can hold of `flight serve`: open connections per address (beyond
 * it a new connection is closed at once), open connections in all, and webhook bodies being read
 * (the only bodies read before their sender is known to be anyone: a signature covers the whole
 * body). A client past its share is refused; everyone else still gets in. Proxies the operator
 * trusts (serve.trusted_proxies) carry every client's connections, so only the total applies to
 * them; the proxy limits its own clients. IPv6 clients count by /64 (clientKey).
 */
import type net from 'node:net';
import { clientKey } from './client.js';

export interface Limits {
  /** Connections open at once from one address. */
  perClientConnections: number;
  /** Connections open at once in all. */
  connections: number;
  /** Webhook bodies read at once for one client. */
  perClientBodies: number;
  /** Webhook bodies read at once in all (each at most 1 MiB: this bounds their memory). */
  bodies: number;
}

export const DEFAULT_LIMITS: Limits = { perClientConnections: 32, connections: 2048, perClientBodies: 2, bodies: 32 };

export class ConnectionLimits {
  private open = new Map<string, number>();
  private total = 0;
  private reading = new Map<string, number>();
  private readingTotal = 0;
  /** Set by the server from flight.yml. */
  trusted: ReadonlySet<string> = new Set();

  constructor(readonly o: Limits, private say: (line: string) => void = () => undefined) {}

  /** Count a new connection, or close it when its address (or the server) is full. */
  admit(socket: net.Socket): void {
    const addr = socket.remoteAddress ?? '?';
    const key = this.trusted.has(addr) ? addr : clientKey(addr);
    const mine = this.open.get(key) ?? 0;
    const full = this.total >= this.o.connections ? 'everyone' : !this.trusted.has(addr) && mine >= this.o.perClientConnections ? 'this address' : undefined;
    if (full) {
      this.say(`${new Date().toISOString()} ${addr} - - refused: too many connections from ${full}`);
      socket.destroy();
      return;
    }
    this.open.set(key, mine + 1);
    this.total++;
    socket.once('close', () => {
      this.total--;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    });
  }

  /** A slot to read one webhook body for `client`, or undefined when it (or the server) has none free; call the result when done. */
  takeBodySlot(client: string): (() => void) | undefined {
    client = clientKey(client);
    const mine = this.reading.get(client) ?? 0;
    if (mine >= this.o.perClientBodies || this.readingTotal >= this.o.bodies) return undefined;
    this.reading.set(client, mine + 1);
    this.readingTotal++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.readingTotal--;
      const left = (this.reading.get(client) ?? 1) - 1;
      if (left > 0) this.reading.set(client, left);
      else this.reading.delete(client);
    };
  }

  get openConnections(): number {
    return this.total;
  }
}
