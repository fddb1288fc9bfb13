/**
 * fpm_opcache: read or warm a PHP-FPM pool's OPcache, through the pool itself.
 *
 * OPcache lives in the FPM master's shared memory; the command line has a cache of its own (or
 * none), so `php -r 'opcache_get_status()'` on the server says nothing about what requests see.
 * The only way in is to have a pool run a script: this module writes Flight's worker script
 * (playbooks/files/flight-opcache.php) into the app's home, where the pool may read it (its
 * open_basedir is the home and /tmp) and nginx never serves it, and asks the pool over its unix
 * socket, as nginx would, with FastCGI:
 *
 *   - the FastCGI request is encoded on this machine (src/module-kit/fastcgi.ts);
 *   - on the server, PHP's command line (present wherever FPM is) only relays bytes: it writes
 *     the worker script (root-owned, 0640, readable by the pool's group), sends the request to
 *     the socket, and prints the answer as base64; one round trip in all
 *     (src/module-kit/fpm-pool.ts);
 *   - the worker removes itself as soon as it starts, the relay again when it exits.
 *
 * action: status  opcache_get_status() in numbers, and with `threshold` the decision whether
 *                 the cache is full enough to reload PHP-FPM (`data.reload`). Reads only, so it
 *                 runs in check mode too (the worker file exists for the length of the request).
 * action: reload  status, then a graceful reload of phpX.Y-fpm (service_reload) when the cache
 *                 is at least `threshold` percent full (default 75), else skipped with the
 *                 reason; what opcache-reload.yml runs on each server. Check mode: would reload.
 * action: warmup  compile a release's PHP files into the cache (opcache_compile_file: compiled,
 *                 not run), hottest first, within a memory budget: the warm-up stops before it
 *                 has used `budget_mb`, and before the cache's free memory would go under
 *                 `min_free_mb`. Changes the cache, so check mode only says what it would do.
 *
 * The socket belongs to www-data (mode 0660): the task needs become (root), as every Flight
 * playbook has.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule, type ModuleContext, type ModuleResult } from '../src/module-kit/contract.js';
import { askPool } from '../src/module-kit/fpm-pool.js';
import { runAction } from '../src/module-kit/operation.js';
import { service_reload } from './service_reload.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['action', 'socket', 'php', 'dir', 'group'],
  properties: {
    action: { enum: ['status', 'reload', 'warmup'] },
    socket: { type: 'string', pattern: '^/[^\\0]+$', description: "The pool's unix socket, e.g. /run/php/shop.sock." },
    php: { type: 'string', pattern: '^\\d+\\.\\d+$', description: 'PHP version whose command line relays the request (/usr/bin/phpX.Y).' },
    dir: { type: 'string', pattern: '^/[^\\0]+$', description: "A folder inside the app's home for the worker script (readable by the pool's user)." },
    group: { type: 'string', pattern: '^[a-z_][a-z0-9_-]*$', description: "The pool's group (the app's): the worker script is root-owned, readable by this group." },
    timeout: { type: 'number', exclusiveMinimum: 0, description: "Seconds to wait for the pool's answer." },
    threshold: { type: 'number', minimum: 0, maximum: 100, description: 'status, reload: percent of OPcache use (its fullest resource) at or above which to reload.' },
    group_under: { type: 'string', pattern: '^/', description: 'status: also count cached scripts and bytes per first folder under this path.' },
    release: { type: 'string', pattern: '^/', description: 'warmup: the release folder whose files are compiled.' },
    current: { type: 'string', pattern: '^/', description: 'warmup: the `current` link; files the serving release has in the cache go first.' },
    budget_mb: { type: 'number', exclusiveMinimum: 0, description: 'warmup: at most this much OPcache memory, in MB.' },
    min_free_mb: { type: 'number', minimum: 0, description: "warmup: stop before OPcache's free memory would go under this, in MB." },
  },
} as const;

/** The arguments, as the schema declares them. */
export type FpmOpcacheParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** The worker's report of opcache_get_status(false) (flight_opcache_numbers() in the PHP). */
export interface OpcacheNumbers {
  enabled: boolean;
  cache_full: boolean;
  restart_pending: boolean;
  memory: { used: number; free: number; wasted: number };
  interned: { used: number; size: number };
  scripts: number;
  keys: number;
  max_keys: number;
  hits: number;
  misses: number;
  start_time: number;
  last_restart_time: number;
  oom_restarts: number;
  hash_restarts: number;
  manual_restarts: number;
  validate_timestamps: boolean;
}

export interface OpcacheUsage {
  /** The fullest of the three, in percent: what the threshold is compared with. */
  percent: number;
  by: 'memory' | 'keys' | 'interned strings';
  /** (used + wasted) / total: wasted memory (scripts replaced or invalidated) is only freed by a restart. */
  memory: number;
  keys: number;
  interned: number;
}

const pct = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/**
 * How full the cache is. Any of the three running out hurts: no memory or no key left means new
 * files are no longer cached at all; a full interned strings buffer means each worker keeps its
 * own copies. A cache that reported itself full counts as 100%.
 */
export function opcacheUsage(n: OpcacheNumbers): OpcacheUsage {
  const total = n.memory.used + n.memory.free + n.memory.wasted;
  const memory = pct(n.memory.used + n.memory.wasted, total);
  const keys = pct(n.keys, n.max_keys);
  const interned = pct(n.interned.used, n.interned.size);
  const candidates: Array<[OpcacheUsage['by'], number]> = [['memory', memory], ['keys', keys], ['interned strings', interned]];
  let [by, percent] = candidates.reduce((a, b) => (b[1] > a[1] ? b : a));
  if (n.cache_full && percent < 100) [by, percent] = ['memory', 100];
  return { percent, by, memory, keys, interned };
}

/** Reload when the cache is at least `threshold` percent full (0: always; 100: only when full). */
export function reloadDecision(n: OpcacheNumbers | null, threshold: number): { reload: boolean; why: string; usage?: OpcacheUsage } {
  if (!n || !n.enabled) return { reload: false, why: 'OPcache is not enabled in this PHP-FPM' };
  const usage = opcacheUsage(n);
  const shown = `${usage.percent.toFixed(1)}% (${usage.by})`;
  return usage.percent >= threshold
    ? { reload: true, why: `OPcache ${shown} is at or above the ${threshold}% threshold`, usage }
    : { reload: false, why: `OPcache ${shown} is under the ${threshold}% threshold`, usage };
}

export type BudgetStop = 'time' | 'keys' | 'floor' | 'budget' | null;

export interface BudgetState {
  /** Bytes of OPcache memory free now. */
  free: number;
  /** Bytes the warm-up has used so far. */
  used: number;
  /** Bytes the next file is expected to take. */
  estimate: number;
  floor: number;
  budget: number;
  keys: number;
  max_keys: number;
  elapsed_ms: number;
  limit_ms: number;
}

/**
 * Whether the warm-up must stop before the next file. The decision runs in the pool
 * (flight_budget_stop() in the worker script, which must decide as it compiles); this is its
 * mirror, and the unit tests hold both to one table.
 */
export function budgetStop(s: BudgetState): BudgetStop {
  if (s.elapsed_ms >= s.limit_ms) return 'time';
  if (s.keys >= s.max_keys) return 'keys';
  if (s.free - s.estimate < s.floor) return 'floor';
  if (s.used + s.estimate > s.budget) return 'budget';
  return null;
}

export const MB = 1024 * 1024;
const mb = (bytes: number): string => `${(bytes / MB).toFixed(1)} MB`;

export interface WarmupReport {
  ok: boolean;
  error?: string;
  candidates: number;
  compiled: number;
  already_cached: number;
  not_cached: number;
  not_cached_files?: string[];
  failed: number;
  left: number;
  stopped: BudgetStop;
  bytes: number;
  ms: number;
  errors: string[];
  status: OpcacheNumbers | null;
}

const STOPS: Record<Exclude<BudgetStop, null>, (p: { budget: number; floor: number }) => string> = {
  budget: (p) => `stopped at the ${p.budget} MB budget`,
  floor: (p) => `stopped to keep ${p.floor} MB of OPcache free`,
  keys: () => 'stopped: OPcache has no key left (opcache.max_accelerated_files)',
  time: () => 'stopped at the time limit',
};

/** The task's one line: files compiled and memory used first, then anything unusual. */
export function describeWarmup(r: WarmupReport, limits: { budget: number; floor: number }): string {
  const parts = [`compiled ${r.compiled} PHP file${r.compiled === 1 ? '' : 's'} into OPcache (${mb(r.bytes)}) in ${(r.ms / 1000).toFixed(1)} s`];
  if (r.already_cached) parts.push(`${r.already_cached} already cached`);
  if (r.not_cached) parts.push(`${r.not_cached} not cached${r.not_cached_files?.[0] ? ` (${r.not_cached_files[0]})` : ''}`);
  if (r.failed) parts.push(`${r.failed} failed to compile${r.errors[0] ? ` (${r.errors[0]})` : ''}`);
  let line = parts.join(', ');
  if (r.stopped) line += `; ${STOPS[r.stopped](limits)}, ${r.left} file${r.left === 1 ? '' : 's'} left`;
  if (r.status) {
    const u = opcacheUsage(r.status);
    line += `; OPcache ${u.percent.toFixed(0)}% used`;
  }
  return line;
}

/** One-line summary of a status read. */
export function describeStatus(n: OpcacheNumbers): string {
  const u = opcacheUsage(n);
  const total = n.memory.used + n.memory.free + n.memory.wasted;
  return `OPcache ${u.percent.toFixed(1)}% used: memory ${mb(n.memory.used + n.memory.wasted)} of ${mb(total)} (${mb(n.memory.wasted)} wasted), ${n.keys} of ${n.max_keys} keys, ${n.scripts} scripts`;
}

async function status(ctx: ModuleContext, p: FpmOpcacheParams): Promise<ModuleResult> {
  const a = await askPool(ctx, p, { action: 'status', ...(p.group_under ? { group_under: p.group_under } : {}) });
  if (!a.ok) return { changed: false, failed: true, msg: a.msg };
  const n = (a.json.status ?? null) as OpcacheNumbers | null;
  const groups = (a.json.groups ?? {}) as Record<string, { scripts: number; bytes: number }>;
  const data: Record<string, unknown> = { php: p.php, socket: p.socket, opcache: n, groups };
  if (!n || !n.enabled) {
    return { changed: false, msg: 'OPcache is not enabled in this PHP-FPM', data: { ...data, used_percent: 0, reload: false } };
  }
  const usage = opcacheUsage(n);
  data.used_percent = Number(usage.percent.toFixed(2));
  data.usage = usage;
  let msg = `PHP ${p.php}: ${describeStatus(n)}`;
  if (p.threshold !== undefined) {
    const d = reloadDecision(n, p.threshold);
    data.reload = d.reload;
    msg = `PHP ${p.php}: ${d.why}: ${d.reload ? 'reload' : 'no reload'} (${describeStatus(n).replace(/^OPcache [\d.]+% used: /, '')})`;
  }
  return { changed: false, msg, data };
}

export const DEFAULT_THRESHOLD = 75;

async function reload(ctx: ModuleContext, p: FpmOpcacheParams): Promise<ModuleResult> {
  const threshold = p.threshold ?? DEFAULT_THRESHOLD;
  const read = await status(ctx, { ...p, threshold });
  if (read.failed) return read;
  if (read.data?.reload !== true) {
    const n = read.data?.opcache as OpcacheNumbers | null;
    return { changed: false, skipped: true, msg: `PHP ${p.php}: ${reloadDecision(n, threshold).why}: not reloaded`, data: read.data };
  }
  const why = reloadDecision(read.data.opcache as OpcacheNumbers, threshold).why;
  // service_reload itself, check mode included (it reads the service and says what it would do):
  // the config test first, the graceful reload, the check that FPM came back.
  const r = await service_reload.run(ctx, { name: `php${p.php}-fpm`, state: 'reloaded' });
  return { ...r, msg: `PHP ${p.php}: ${why}: ${r.msg ?? ''}`, data: { ...read.data, ...(r.data ?? {}) } };
}

const warmupLimits = (p: FpmOpcacheParams) => ({ budget: p.budget_mb ?? 64, floor: p.min_free_mb ?? 32 });

const warmup = runAction<FpmOpcacheParams>({
  refuse: (p) => (p.release ? undefined : 'action warmup needs `release` (the release folder)'),
  would: (p) => {
    const limits = warmupLimits(p);
    return `compile the PHP files of ${p.release} into OPcache through ${p.socket} (at most ${limits.budget} MB, keeping ${limits.floor} MB free)`;
  },
  async act(ctx, p) {
    const limits = warmupLimits(p);
    const timeLimit = p.timeout ?? 30;
    const a = await askPool(ctx, { ...p, timeout: timeLimit + 10 }, {
      action: 'warmup',
      release: p.release,
      ...(p.current ? { current: p.current } : {}),
      budget_bytes: Math.round(limits.budget * MB),
      floor_bytes: Math.round(limits.floor * MB),
      time_limit: timeLimit,
    });
    if (!a.ok) return { changed: false, failed: true, msg: a.msg };
    const r = a.json as unknown as WarmupReport;
    const data = {
      compiled: r.compiled,
      already_cached: r.already_cached,
      failed_files: r.failed,
      left: r.left,
      stopped: r.stopped,
      bytes: r.bytes,
      ms: r.ms,
      candidates: r.candidates,
      errors: r.errors,
      opcache: r.status,
    };
    return { changed: r.compiled > 0, msg: describeWarmup(r, limits), data };
  },
});

export const fpm_opcache = defineModule<FpmOpcacheParams>({
  name: 'fpm_opcache',
  schema,
  async run(ctx, p) {
    switch (p.action) {
      case 'status': return status(ctx, p);
      case 'reload': return reload(ctx, p);
      case 'warmup': return warmup(ctx, p);
    }
  },
});
