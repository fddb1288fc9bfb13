import type { Host } from '../inventory/types.js';

/**
 * `hostvars[name]`: the host's inventory variables with its registered results and set facts
 * on top, read when a template looks (a later play sees what an earlier one registered, e.g.
 * the password a database server's play generated). A view, not a copy: a run on many hosts
 * does not rebuild it for every task.
 */
export function liveHostvars(hosts: ReadonlyMap<string, Host>, registered: (name: string) => Record<string, unknown> | undefined): Record<string, unknown> {
  const view = (name: string) => {
    const h = hosts.get(name);
    return h ? { ...h.vars, ...registered(name) } : undefined;
  };
  return new Proxy({} as Record<string, unknown>, {
    get: (_, key) => (typeof key === 'string' ? view(key) : undefined),
    has: (_, key) => typeof key === 'string' && hosts.has(key),
    ownKeys: () => [...hosts.keys()],
    getOwnPropertyDescriptor: (_, key) => (typeof key === 'string' && hosts.has(key) ? { enumerable: true, configurable: true, value: view(key) } : undefined),
  });
}
