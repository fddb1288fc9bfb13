/**
 * The inventory generated from definitions: hosts are the clusters' servers; groups are `all`,
 * `cluster_<name>`, `web`, `workers`, `scheduler`, `database`, `redis`, `app_<name>`,
 * `app_<name>_database` and `app_<name>_redis` (the server holding the app's database, or its
 * Redis user; empty when it has none).
 */
import { invalid } from '../errors.js';
import { SERVICE_KINDS } from '../definitions/services.js';
import type { Definitions } from '../definitions/types.js';
import { hostVars } from './host-vars.js';
import { createInventory } from './inventory.js';
import { mergeSsh } from './ssh.js';
import type { Host, Inventory } from './types.js';

export interface BuildOptions {
  /** Only this cluster's servers (and the apps deployed on it). */
  cluster?: string;
}

export function buildInventory(defs: Definitions, options: BuildOptions = {}): Inventory {
  const clusters = [...defs.clusters.values()].filter((c) => !options.cluster || c.name === options.cluster);
  if (options.cluster && clusters.length === 0) {
    const known = [...defs.clusters.keys()];
    throw invalid(`unknown cluster '${options.cluster}' (clusters: ${known.length ? known.join(', ') : 'none'})`);
  }
  const apps = [...defs.apps.values()].filter((a) => clusters.some((c) => c.name === a.cluster));

  // The fixed groups always exist, even empty, so that a playbook's `hosts: workers` means
  // "no workers" rather than "unknown group".
  const groups = new Map<string, string[]>([['all', []]]);
  for (const c of clusters) groups.set(`cluster_${c.name}`, []);
  for (const g of ['web', 'workers', 'scheduler', 'database', 'redis']) groups.set(g, []);
  for (const a of apps) groups.set(`app_${a.name}`, []);
  for (const a of apps) for (const kind of SERVICE_KINDS) groups.set(`app_${a.name}_${kind}`, []);

  const hosts: Host[] = [];
  for (const cluster of clusters) {
    const clusterApps = apps.filter((a) => a.cluster === cluster.name);
    for (const server of cluster.servers) {
      const vars = hostVars(cluster, server, clusterApps, defs.config);
      const mine = clusterApps
        .map((a) => ({ app: a, entry: a.servers.find((s) => s.name === server.name) }))
        .filter((x) => x.entry !== undefined);
      const memberOf = new Set<string>(['all', `cluster_${cluster.name}`]);
      if (server.web_server) memberOf.add('web');
      if (mine.some((x) => x.entry!.queues.length > 0)) memberOf.add('workers');
      if (mine.some((x) => x.entry!.scheduler)) memberOf.add('scheduler');
      if (server.database) memberOf.add('database');
      if (server.redis) memberOf.add('redis');
      for (const x of mine) memberOf.add(`app_${x.app.name}`);
      for (const app of Object.keys(vars.databases)) memberOf.add(`app_${app}_database`);
      for (const user of vars.redis_users) memberOf.add(`app_${user.name}_redis`);
      // Listed in the groups' own order, whatever order they were added in.
      const hostGroups = [...groups.keys()].filter((g) => memberOf.has(g));
      for (const g of hostGroups) groups.get(g)!.push(server.name);
      hosts.push({
        name: server.name,
        address: server.host,
        connection: 'ssh',
        ssh: mergeSsh(defs.config.ssh, server.ssh),
        vars,
        groups: hostGroups,
      });
    }
  }
  return createInventory(hosts, groups);
}
