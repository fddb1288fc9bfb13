/**
 * Host variables of a definitions host. The names are a contract with the built-in playbooks
 * and templates: rename nothing here without them.
 */
import { appServices } from '../definitions/services.js';
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

/** Where an app's Redis is, as its servers connect to it: its own user, its keys under `prefix`. */
export interface HostAppRedis {
  /** The Redis server's name (its host vars hold the app's generated password once configured). */
  server: string;
  host: string;
  port: number;
  user: string;
  /** Every key the app's user may touch starts with it (Laravel's REDIS_PREFIX). */
  prefix: string;
}

/** An app as seen from one of its hosts: every app setting, plus this host's own entry. */
export type HostApp = Omit<App, 'file' | 'database' | 'redis'> & { server: AppServer; database: HostAppDatabase | null; redis: HostAppRedis | null };

/** An app database held on this (database) server. */
export interface HostDatabase {
  name: string;
  user: string;
  clients: string[];
  /** On this server, root-only: the generated password, made once. */
  password_file: string;
}

/** An app's Redis user held on this (Redis) server. */
export interface HostRedisUser {
  name: string;
  prefix: string;
  /** On this server, root-only: the generated password, made once. */
  password_file: string;
}

export const MARIADB_PORT = 3306;
export const REDIS_PORT = 6379;

/** An app's Redis keys: `<app>:`, so no app name is a prefix of another's keys. */
const redisPrefix = (app: string): string => `${app}:`;

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
  /** Redis runs here for the cluster's apps; null: not a Redis server. */
  redis: { bind: string; port: number } | null;
  /** The apps' Redis users held here, in app name order: the whole ACL file. */
  redis_users: HostRedisUser[];
  server_name: string;
  server_host: string;
  keep_releases: number;
  /** The apps deployed to this host, by name. */
  apps: Record<string, HostApp>;
}

export function hostVars(cluster: Cluster, server: Server, apps: App[], config: FlightConfig): DefinitionHostVars {
  const hostApps: Record<string, HostApp> = {};
  const databases: Record<string, HostDatabase> = {};
  const redisUsers: HostRedisUser[] = [];
  for (const app of apps) {
    const { database: dbServer, redis: redisServer } = appServices(app, cluster.servers);
    if (dbServer?.name === server.name) {
      databases[app.name] = { name: app.name, user: app.name, clients: databaseClients(cluster, dbServer), password_file: `/etc/flight/mariadb/${app.name}.password` };
    }
    if (redisServer?.name === server.name) {
      redisUsers.push({ name: app.name, prefix: redisPrefix(app.name), password_file: `/etc/flight/redis/${app.name}.password` });
    }
    const entry = app.servers.find((s) => s.name === server.name);
    if (!entry) continue;
    const { file: _file, ...settings } = app;
    const database = dbServer ? { server: dbServer.name, host: dbServer.database!.bind, port: MARIADB_PORT, name: app.name, user: app.name } : null;
    const redis = redisServer ? { server: redisServer.name, host: redisServer.redis!.bind, port: REDIS_PORT, user: app.name, prefix: redisPrefix(app.name) } : null;
    // Copies: a playbook that changes a host's variables must not change another host's.
    hostApps[app.name] = structuredClone({ ...settings, database, redis, server: entry });
  }
  redisUsers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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
    redis: server.redis ? { bind: server.redis.bind, port: REDIS_PORT } : null,
    redis_users: redisUsers,
    server_name: server.name,
    server_host: server.host,
    keep_releases: config.keep_releases,
    apps: hostApps,
  };
}
