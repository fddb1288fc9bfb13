/**
 * Host variables of a definitions host. The names are a contract with the built-in playbooks
 * and templates: rename nothing here without them.
 */
import type { App, AppServer, Cluster, FlightConfig, Server } from '../definitions/types.js';

/** An app as seen from one of its hosts: every app setting, plus this host's own entry. */
export type HostApp = Omit<App, 'file'> & { server: AppServer };

export interface DefinitionHostVars extends Record<string, unknown> {
  cluster_name: string;
  php_versions: string[];
  php_repository: string | null;
  /** Seconds. */
  request_duration: number;
  /** MB. */
  request_payload: number;
  /** MB. */
  request_memory: number;
  web_server: boolean;
  listen: string | null;
  server_name: string;
  server_host: string;
  keep_releases: number;
  /** The apps deployed to this host, by name. */
  apps: Record<string, HostApp>;
}

export function hostVars(cluster: Cluster, server: Server, apps: App[], config: FlightConfig): DefinitionHostVars {
  const hostApps: Record<string, HostApp> = {};
  for (const app of apps) {
    const entry = app.servers.find((s) => s.name === server.name);
    if (!entry) continue;
    const { file: _file, ...settings } = app;
    // Copies: a playbook that changes a host's variables must not change another host's.
    hostApps[app.name] = structuredClone({ ...settings, server: entry });
  }
  return {
    cluster_name: cluster.name,
    php_versions: [...cluster.php],
    php_repository: cluster.php_repository,
    request_duration: cluster.request_duration,
    request_payload: cluster.request_payload,
    request_memory: cluster.request_memory,
    web_server: server.web_server,
    listen: server.listen,
    server_name: server.name,
    server_host: server.host,
    keep_releases: config.keep_releases,
    apps: hostApps,
  };
}
