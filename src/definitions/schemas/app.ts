/** apps/<name>.yml: how an application is deployed, and where. */
import { kind } from '../../kinds.js';
import { CLUSTER_NAME_PATTERN, commandList, phpVersion, serverName } from './common.js';

export const DEFAULT_COMPOSER_COMMAND =
  'install --prefer-dist --no-progress --no-interaction --no-dev --optimize-autoloader --quiet';

export const DEFAULT_WEB = { max_workers: 10, min_spare_workers: 2, initial_workers: 3, max_spare_workers: 5 } as const;

const workers = (n: number) => ({ type: 'integer', minimum: 1, default: n }) as const;

export const web = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    max_workers: workers(DEFAULT_WEB.max_workers),
    min_spare_workers: workers(DEFAULT_WEB.min_spare_workers),
    initial_workers: workers(DEFAULT_WEB.initial_workers),
    max_spare_workers: workers(DEFAULT_WEB.max_spare_workers),
  },
} as const;

export const queue = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'command'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9_-]+$', expected: "a queue name of lowercase letters, digits, '_' and '-'" },
    command: kind('artisan-command'),
    workers: { type: 'integer', minimum: 1, default: 1 },
    stop_wait_timeout: { type: 'integer', minimum: 0, default: 60, expected: 'integer >= 0 (seconds)' },
  },
} as const;

/** An app's settings for one server; also what `flight server:add` copies (schemas/added.ts). */
export const appServer = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: serverName,
    web,
    deploy_commands: commandList,
    queues: { type: 'array', items: queue, default: [] },
    scheduler: { type: 'boolean', default: false },
  },
} as const;

/** Relative, and never escaping the app's folder: these become symlinks into shared/. */
const sharedPath = kind('relative-path');

/**
 * OPcache warm-up before the switch (see docs/opcache.md): `true` for the defaults, or the
 * limits. No schema defaults inside anyOf (ajv cannot apply them there): toApp fills them in.
 */
/** `flight serve` rolls a release back on an error-rate signal (docs/serve.md, automatic rollback). */
export const DEFAULT_AUTO_ROLLBACK = { window: 900, min_requests: 0 } as const;

export const DEFAULT_OPCACHE_WARMUP = { budget_mb: 64, min_free_mb: 32, timeout: 20 } as const;

/** The warm-up's settings when given as a mapping (toApp fills what is left out). */
export const opcacheWarmupSettings = {
  type: 'object',
  additionalProperties: false,
  expected: 'a mapping with budget_mb, min_free_mb, timeout',
  properties: {
    budget_mb: { type: 'integer', minimum: 1, expected: 'MB of OPcache memory the warm-up may use (integer >= 1)' },
    min_free_mb: { type: 'integer', minimum: 0, expected: 'MB of OPcache memory to leave free (integer >= 0)' },
    timeout: { type: 'number', exclusiveMinimum: 0, expected: 'a number of seconds > 0' },
  },
} as const;

const opcacheWarmup = { anyOf: [{ type: 'boolean', expected: 'true or false' }, opcacheWarmupSettings] } as const;

export const healthCheck = {
  type: 'object',
  additionalProperties: false,
  properties: {
    path: { ...kind('url-path'), default: '/' },
    status: { type: 'integer', minimum: 100, maximum: 599, default: 200 },
    timeout: { type: 'number', exclusiveMinimum: 0, default: 10, expected: 'a number of seconds > 0' },
  },
} as const;

export const autoRollback = {
  type: 'object',
  additionalProperties: false,
  required: ['error_rate'],
  expected: 'a mapping with error_rate, window, min_requests',
  properties: {
    error_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1, expected: 'the fraction of failing requests that triggers a rollback, > 0 and <= 1 (0.05 for 5%)' },
    window: { type: 'integer', minimum: 1, default: DEFAULT_AUTO_ROLLBACK.window, expected: 'seconds after a release during which signals can roll it back (integer >= 1)' },
    min_requests: { type: 'integer', minimum: 0, default: DEFAULT_AUTO_ROLLBACK.min_requests, expected: 'the fewest requests a signal must cover to count (integer >= 0)' },
  },
} as const;

/** `database:` and `redis:`: `true` (the cluster's only such server) or the server to use. */
const serviceUse = (yes: string) => ({
  anyOf: [
    { type: 'boolean', expected: yes },
    { type: 'object', additionalProperties: false, required: ['server'], expected: 'a mapping with server', properties: { server: serverName } },
  ],
}) as const;

export const appSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['repo', 'php', 'domain', 'cluster', 'servers'],
  properties: {
    repo: kind('repo'),
    branch: kind('branch'),
    php: phpVersion,
    domain: kind('domain'),
    cluster: { type: 'string', pattern: CLUSTER_NAME_PATTERN, expected: 'a cluster name (a file in clusters/)' },
    composer_command: { ...kind('command-line', 'composer\'s arguments on one line (no line breaks or control characters)'), default: DEFAULT_COMPOSER_COMMAND },
    release_commands: commandList,
    shared: { type: 'array', uniqueItems: true, items: sharedPath, default: [] },
    keep_releases: { type: 'integer', minimum: 2 },
    release_strategy: { enum: ['releases', 'alternate'], default: 'releases' },
    release_nice: { type: 'integer', minimum: 0, maximum: 19, default: 10, expected: "how far below nginx and PHP-FPM the release's work runs on a server (nice, 0 to 19; 0: at their priority)" },
    opcache_warmup: opcacheWarmup,
    health_check: healthCheck,
    auto_rollback: autoRollback,
    database: serviceUse("true (a database on the cluster's database server) or false"),
    redis: serviceUse("true (a Redis user on the cluster's Redis server) or false"),
    servers: { type: 'array', minItems: 1, items: appServer },
  },
} as const;
