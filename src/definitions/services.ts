/**
 * Which server holds an app's database or Redis user: the one its file names, or the cluster's
 * only server running that service. One answer for the cross-file checks (which report it) and
 * the inventory (which trusts it, the checks having passed).
 */
import type { App, Server, ServiceKind } from './types.js';

export const SERVICE_KINDS: readonly ServiceKind[] = ['database', 'redis'];

export type ServiceServerOf = { server: Server } | { error: string };

/** How the files and the messages name each service. */
const LABEL: Record<ServiceKind, string> = { database: 'database', redis: 'Redis' };

export function serviceServerOf(app: App, servers: readonly Server[], kind: ServiceKind): ServiceServerOf {
  const label = LABEL[kind];
  const candidates = servers.filter((s) => s[kind]);
  const named = app[kind]?.server;
  if (named) {
    const s = servers.find((x) => x.name === named);
    if (!s) return { error: `no server '${named}' in cluster '${app.cluster}' (its servers: ${servers.map((x) => x.name).join(', ')})` };
    if (!s[kind]) return { error: `server '${named}' of cluster '${app.cluster}' is not a ${label} server (give it \`${kind}: true\` in the cluster file)` };
    return { server: s };
  }
  if (candidates.length === 1) return { server: candidates[0]! };
  if (candidates.length === 0) return { error: `cluster '${app.cluster}' has no ${label} server (give one of its servers \`${kind}: true\`)` };
  return { error: `cluster '${app.cluster}' has ${candidates.length} ${label} servers (${candidates.map((s) => s.name).join(', ')}): name one with \`${kind}: { server: NAME }\`` };
}

/** The services an app uses, each with the server that holds it (the checks having passed). */
export function appServices(app: App, servers: readonly Server[]): Partial<Record<ServiceKind, Server>> {
  const out: Partial<Record<ServiceKind, Server>> = {};
  for (const kind of SERVICE_KINDS) {
    if (!app[kind]) continue;
    const found = serviceServerOf(app, servers, kind);
    if ('server' in found) out[kind] = found.server;
  }
  return out;
}
