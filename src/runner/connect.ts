/** How a run reaches its hosts: a connection and the host's facts, once per host per run. */
import type { Connection } from '../connection/types.js';
import type { Host } from '../inventory/types.js';
import { gatherFacts, type Facts } from '../module-kit/facts/host.js';
import type { HostState } from './host-state.js';

/** Where connections come from: the SSH pool in real runs. Opened once per host per run. */
export interface ConnectionSource {
  get(host: Host): Promise<Connection>;
  readonly opened: number;
}

/** This machine, for plays on `localhost` and tasks delegated to it, when the inventory has no entry. */
export const LOCALHOST: Host = {
  name: 'localhost', address: '127.0.0.1', connection: 'local',
  ssh: { user: '', port: 0, hostKeyPolicy: 'strict', connectTimeout: 10 }, vars: {}, groups: [],
};

/**
 * The host's connection and facts, opened once per run when a task first needs them (so a
 * release whose commit does not exist fails on this machine without logging in anywhere).
 * The outcome is kept, failure included: an unreachable host is not dialled again, and hosts
 * that delegate to this machine at once share one read of its facts.
 */
export function ready(h: HostState, connections: ConnectionSource): Promise<{ conn: Connection; facts: Facts }> {
  h.ready ??= (async () => {
    const conn = await connections.get(h.host);
    const facts = await gatherFacts(conn);
    h.facts = facts;
    return { conn, facts };
  })();
  return h.ready;
}
