/**
 * Which server holds an app's database: the one its file names, or the cluster's only database
 * server. One answer for the cross-file checks (which report it) and the inventory (which
 * trusts it, the checks having passed).
 */
import type { App, Server } from './types.js';

export type DatabaseServerOf = { server: Server } | { error: string };

export function databaseServerOf(app: App, servers: readonly Server[]): DatabaseServerOf {
  const candidates = servers.filter((s) => s.database);
  const named = app.database?.server;
  if (named) {
    const s = servers.find((x) => x.name === named);
    if (!s) return { error: `no server '${named}' in cluster '${app.cluster}' (its servers: ${servers.map((x) => x.name).join(', ')})` };
    if (!s.database) return { error: `server '${named}' of cluster '${app.cluster}' is not a database server (give it \`database: true\` in the cluster file)` };
    return { server: s };
  }
  if (candidates.length === 1) return { server: candidates[0]! };
  if (candidates.length === 0) return { error: `cluster '${app.cluster}' has no database server (give one of its servers \`database: true\`)` };
  return { error: `cluster '${app.cluster}' has ${candidates.length} database servers (${candidates.map((s) => s.name).join(', ')}): name one with \`database: { server: NAME }\`` };
}
