/**
 * Host variables of a definitions host. The names are a contract with the built-in playbooks
 * and templates: rename nothing here without them.
 */
import { databaseServerOf } from '../definitions/database.js';
import type { App, AppServer, Cluster, FlightConfig, Server } from '../definitions/types.js';

/** Where an app's database is, as its servers connect to it. */
export interface HostAppDatabase {
  /** The database server's name (its host vars hold the app's generated password once configured). */
  server: string;
  host: string;
  port: number;
  name: string;
  user: string;
}

/** An app as seen from one of its hosts: every app setting, plus this host's own entry. */
export type HostApp = Omit<App, 'file' | 'database'> & { server: AppServer; database: HostAppDatabase | null };

/** An app database held on this (database) server. */
export interface HostDatabase {
  name: string;
  user: string;
  clients: string[];
  /** On this server, root-only: the generated password, made once. */
  password_file: string;
}

export const MARIADB_PORT = 3306;

/** Where a database server lets apps connect from: as set, or every server of the cluster now. */
function databaseClients(cluster: Cluster, server: Server): string[] {
  return [...(server.database?.clients ?? cluster.servers.map((s) => s.host))];
}

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
  /** MariaDB runs here for the cluster's apps (clients resolved); null: not a database server. */
  database: { bind: string; clients: string[] } | null;
  /** The apps' databases held here, by app name. */
  databases: Record<string, HostDatabase>;
  server_name: string;
  server_host: string;
  keep_releases: number;
  /** The apps deployed to this host, by name. */
  apps: Record<string, HostApp>;
}

export function hostVars(cluster: Cluster, server: Server, apps: App[], config: FlightConfig): DefinitionHostVars {
  const hostApps: Record<string, HostApp> = {};
  const databases: Record<string, HostDatabase> = {};
  for (const app of apps) {
    const db = app.database ? databaseServerOf(app, cluster.servers) : undefined;
    const dbServer = db && 'server' in db ? db.server : undefined;
    if (dbServer?.name === server.name) {
      databases[app.name] = { name: app.name, user: app.name, clients: databaseClients(cluster, dbServer), password_file: `/etc/flight/mariadb/${app.name}.password` };
    }
    const entry = app.servers.find((s) => s.name === server.name);
    if (!entry) continue;
    const { file: _file, ...settings } = app;
    const database = dbServer ? { server: dbServer.name, host: dbServer.database!.bind, port: MARIADB_PORT, name: app.name, user: app.name } : null;
    // Copies: a playbook that changes a host's variables must not change another host's.
    hostApps[app.name] = structuredClone({ ...settings, database, server: entry });
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
    database: server.database ? { bind: server.database.bind, clients: databaseClients(cluster, server) } : null,
    databases,
    server_name: server.name,
    server_host: server.host,
    keep_releases: config.keep_releases,
    apps: hostApps,
  };
}
