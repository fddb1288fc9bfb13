/**
 * From schema-valid data (schema defaults already filled in by ajv) to the typed definitions:
 * defaults that depend on another file, nulls for absent optional values (templates test for
 * null, never for undefined), and paths made absolute against the definitions folder.
 */
import os from 'node:os';
import path from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { DEFAULT_OPCACHE_WARMUP, type appSchema } from './schemas/app.js';
import type { clusterSchema } from './schemas/cluster.js';
import { appLayout } from './layout.js';
import type { App, AppServer, AppService, AutoRollback, Cluster, DatabaseServer, FlightConfig, RedisServer, HealthCheck, OpcacheWarmup, ReleaseStrategy, Server, SshOptions } from './types.js';

/** `~/x` is the user's home; relative paths are relative to the definitions folder. */
export function resolveLocalPath(p: string, dir: string): string {
  if (p === '~') return os.homedir();
  if (p.startsWith('~/')) return path.join(os.homedir(), p.slice(2));
  return path.resolve(dir, p);
}

/**
 * git's own rule: `scheme://...`, or `[user@]host:path` with the ':' before any '/', is remote;
 * anything else is a local path.
 */
export function isRemoteRepo(repo: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/]+:/.test(repo);
}

export function resolveSsh(ssh: SshOptions | undefined, dir: string): SshOptions {
  const out: SshOptions = { ...(ssh ?? {}) };
  if (out.key) out.key = resolveLocalPath(out.key, dir);
  if (out.known_hosts) out.known_hosts = resolveLocalPath(out.known_hosts, dir);
  if (out.jump) out.jump = { ...out.jump, ...(out.jump.key ? { key: resolveLocalPath(out.jump.key, dir) } : {}) };
  return out;
}

export function toConfig(data: Record<string, unknown> | undefined, dir: string): FlightConfig {
  const d = (data ?? {}) as Partial<FlightConfig>;
  return {
    ssh: resolveSsh(d.ssh, dir),
    keep_releases: d.keep_releases ?? 5,
    forks: d.forks ?? 25,
    serve: {
      trusted_proxies: [...(d.serve?.trusted_proxies ?? [])],
      tokens: { ...(d.serve?.tokens ?? {}) },
      github: Object.fromEntries(
        Object.entries(d.serve?.github ?? {}).map(([app, h]) => [app, { ...h, ...(h.secret_file ? { secret_file: resolveLocalPath(h.secret_file, dir) } : {}) }]),
      ),
    },
  };
}

/** A cluster file as ajv leaves it: schema-valid, schema defaults filled in. */
type ClusterData = FromSchema<typeof clusterSchema>;

export function toCluster(name: string, file: string, data: unknown, dir: string): Cluster {
  const d = data as ClusterData;
  return {
    name,
    file,
    php: [...d.php],
    request_duration: d.request_duration,
    request_payload: d.request_payload,
    request_memory: d.request_memory,
    php_repository: d.php_repository ?? null,
    servers: d.servers.map((s) => ({
      name: s.name,
      host: s.host,
      web_server: s.web_server,
      listen: s.listen ?? null,
      database: s.database ? {
        bind: (s.database === true ? undefined : s.database.bind) ?? s.listen ?? s.host,
        clients: (s.database === true ? undefined : s.database.clients) ?? null,
      } : null,
      redis: s.redis ? { bind: (s.redis === true ? undefined : s.redis.bind) ?? s.listen ?? s.host } : null,
      ssh: resolveSsh(s.ssh, dir),
    })),
  };
}

/** An app file as ajv leaves it: schema-valid, schema defaults filled in. */
type AppData = FromSchema<typeof appSchema>;

/** `true` or a mapping turns the warm-up on (defaults for what the mapping leaves out); absent or `false`, off. */
export function toOpcacheWarmup(v: boolean | Partial<OpcacheWarmup> | undefined): OpcacheWarmup | null {
  if (v === undefined || v === false) return null;
  return { ...DEFAULT_OPCACHE_WARMUP, ...(v === true ? {} : v) };
}

/** `database:` or `redis:` of an app file: `true` (the cluster's only such server), a named server, or none. */
const toAppService = (v: boolean | { server: string } | undefined): AppService | null => (v ? { server: v === true ? null : v.server } : null);

/** Whether a release command builds one of Laravel's caches from the code and the env in place. */
export const isCacheCommand = (command: string): boolean => /^(\S*php[\d.]*\s+)?artisan\s+([a-z]+:cache|optimize)(\s|$)/.test(command);

export function toApp(name: string, file: string, data: unknown, config: FlightConfig, dir: string): App {
  const d = data as AppData;
  return {
    name,
    file,
    repo: isRemoteRepo(d.repo) ? d.repo : resolveLocalPath(d.repo, dir),
    branch: d.branch ?? null,
    php: d.php,
    domain: d.domain,
    cluster: d.cluster,
    composer_command: d.composer_command,
    release_commands: [...d.release_commands],
    cache_commands: d.release_commands.filter(isCacheCommand),
    shared: [...d.shared],
    keep_releases: d.keep_releases ?? config.keep_releases,
    release_strategy: d.release_strategy,
    release_nice: d.release_nice,
    health_check: d.health_check ? { ...d.health_check } : null,
    opcache_warmup: toOpcacheWarmup(d.opcache_warmup),
    auto_rollback: d.auto_rollback ? { ...d.auto_rollback } : null,
    database: toAppService(d.database),
    redis: toAppService(d.redis),
    home: `/home/${name}`,
    layout: appLayout(`/home/${name}`),
    servers: d.servers.map((s) => ({
      name: s.name,
      web: { ...s.web },
      deploy_commands: [...s.deploy_commands],
      queues: s.queues.map((q) => ({ ...q })),
      scheduler: s.scheduler,
    })),
  };
}
