/**
 * Definitions as loaded: validated, with defaults applied. Field names are those of the YAML
 * files on purpose: the same names reach playbooks and templates as host variables, so one
 * vocabulary serves the user's files, the code and the templates.
 */
import type { FromSchema } from 'json-schema-to-ts';
import type { AppLayout } from './layout.js';
import type { appServer, autoRollback as autoRollbackSchema, healthCheck as healthCheckSchema, opcacheWarmupSettings, queue as queueSchema, web as webSchema } from './schemas/app.js';
import type { jump as jumpSchema, ssh as sshSchema } from './schemas/common.js';

/** The `ssh` mapping of flight.yml and of a server (`jump: false` cancels an inherited jump host). Paths are absolute once loaded. */
export type SshOptions = FromSchema<typeof sshSchema>;

export type JumpOptions = FromSchema<typeof jumpSchema>;

export interface FlightConfig {
  ssh: SshOptions;
  keep_releases: number;
  forks: number;
  serve: {
    /** Proxies whose X-Forwarded-For names the client. */
    trusted_proxies: string[];
    /** app name -> sha256 (hex) of its deploy token. */
    tokens: Record<string, string>;
    /** app name -> its GitHub push webhook. */
    github: Record<string, GithubHook>;
  };
}

/** flight.yml serve.github.<app>: where the webhook secret is, and which pushes deploy. */
export interface GithubHook {
  secret_env?: string;
  /** Absolute once loaded. */
  secret_file?: string;
  branch?: string;
  /** owner/name */
  repository?: string;
}

export interface Server {
  name: string;
  host: string;
  web_server: boolean;
  /** The address nginx listens on; null: all addresses. */
  listen: string | null;
  /** A MariaDB server for the cluster's apps runs here; null: none. */
  database: DatabaseServer | null;
  /** A Redis server for the cluster's apps runs here; null: none. */
  redis: RedisServer | null;
  ssh: SshOptions;
}

export interface DatabaseServer {
  /** The address MariaDB listens on, and apps connect to: `listen`, else `host`, unless set. */
  bind: string;
  /**
   * Where apps' database users may connect from; null: every server of the cluster, those
   * `flight server:add` adds included (resolved by the inventory).
   */
  clients: string[] | null;
}

/**
 * Redis cannot tell clients apart by address: each app has its own user and password (an ACL
 * user limited to its own keys), and Redis listens only on `bind`.
 */
export interface RedisServer {
  /** The address Redis listens on, and apps connect to: `listen`, else `host`, unless set. */
  bind: string;
}

/** The kinds of server a cluster can run for its apps, as `database:` and `redis:` name them. */
export type ServiceKind = 'database' | 'redis';

export interface Cluster {
  name: string;
  /** e.g. `clusters/staging.yml`, relative to the definitions folder. */
  file: string;
  php: string[];
  /** Seconds. */
  request_duration: number;
  /** MB. */
  request_payload: number;
  /** MB. */
  request_memory: number;
  /** A third-party PHP package repository to add (e.g. `sury`), or null for the OS's own. */
  php_repository: string | null;
  servers: Server[];
}

/** A web server's PHP-FPM pool sizes: the schema's shape (schemas/app.ts), defaults filled in. */
export type WebPool = FromSchema<typeof webSchema>;

/** A queue's workers on a server: the schema's shape, defaults filled in (stop_wait_timeout in seconds). */
export type Queue = FromSchema<typeof queueSchema>;

/** An app's settings for one server of its cluster. */
export type AppServer = FromSchema<typeof appServer>;

/** Defaults filled in; timeout in seconds. */
export type HealthCheck = FromSchema<typeof healthCheckSchema>;

export type ReleaseStrategy = 'releases' | 'alternate';

/**
 * Compile the new release into PHP-FPM's OPcache before the switch (fpm_opcache warmup): MB the
 * warm-up may use, MB it leaves free, seconds. Every setting filled in (toApp).
 */
export type OpcacheWarmup = Required<FromSchema<typeof opcacheWarmupSettings>>;

/** An app's database or Redis user: named after the app, on a server of its cluster that runs the service. */
export interface AppService {
  /** The server's name; null in the file means the cluster's only one (resolved by the inventory). */
  server: string | null;
}

/**
 * When `flight serve` rolls a release back on an error-rate signal from monitoring: above
 * `error_rate` of failing requests, within `window` seconds of a release, for signals covering at
 * least `min_requests` requests. Defaults filled in.
 */
export type AutoRollback = FromSchema<typeof autoRollbackSchema>;

export interface App {
  /** From the file name: apps/<name>.yml. Also the app's Linux user. */
  name: string;
  file: string;
  /** A git URL, or an absolute path (relative paths resolve against the definitions folder). */
  repo: string;
  branch: string | null;
  php: string;
  domain: string;
  cluster: string;
  composer_command: string;
  release_commands: string[];
  /**
   * The release commands that build Laravel's caches (`artisan config:cache`, `route:cache`,
   * `event:cache`, `view:cache`, `optimize`), in their order. A cache holds what it was built
   * from, the env above all: a rollback runs these in the release it goes back to, and an env
   * push in the current one, so no request or job ever reads a config older than the env.
   */
  cache_commands: string[];
  shared: string[];
  /** The app's own, or flight.yml's. */
  keep_releases: number;
  release_strategy: ReleaseStrategy;
  /**
   * How far below nginx and PHP-FPM the release's work (composer, release and deploy commands,
   * the alternate strategy's copy) runs on a server: its CPU niceness, with the lowest
   * best-effort IO priority when above 0, so that pages stay fast while a release prepares.
   */
  release_nice: number;
  health_check: HealthCheck | null;
  /** null: no warm-up. */
  opcache_warmup: OpcacheWarmup | null;
  /** null: signals are refused. */
  auto_rollback: AutoRollback | null;
  /** A database and user on a database server of the cluster; null: none. */
  database: AppService | null;
  /** A Redis user (keys `<app>:*` only) on a Redis server of the cluster; null: none. */
  redis: AppService | null;
  /** /home/<name> */
  home: string;
  /** Where its files are on a server (layout.ts). */
  layout: AppLayout;
  servers: AppServer[];
}

export interface Definitions {
  /** Absolute path of the definitions folder. */
  dir: string;
  config: FlightConfig;
  /** By name, in file name order. */
  clusters: Map<string, Cluster>;
  /** By name, in file name order. */
  apps: Map<string, App>;
  /**
   * Every server `flight server:add` recorded (clusters/<cluster>.servers.yml), whatever its
   * status. `clusters` and `apps` hold only those that joined (see definitions/added.ts).
   */
  added: AddedServer[];
}

/** joining: being added; ready: added and reported ready; failed: an add that did not finish. */
export type AddedStatus = 'joining' | 'ready' | 'failed';

/** An app's settings for an added server, and whether the server has joined the app yet. */
export interface AddedAppEntry extends Omit<AppServer, 'name'> {
  joined: boolean;
}

/** A server added by `flight server:add`, as recorded in its cluster's state file. */
export interface AddedServer extends Server {
  cluster: string;
  /** e.g. `clusters/staging.servers.yml`. */
  file: string;
  like: string | null;
  status: AddedStatus;
  /** When the status was last set (UTC, seconds). */
  since: string;
  by: string | null;
  /** The process that is (or was) adding it, on the `by` host. */
  pid: number | null;
  error: string | null;
  /** By app name. */
  apps: Record<string, AddedAppEntry>;
}
