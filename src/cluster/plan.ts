/**
 * What `flight server:add` will do, decided from the definitions alone before anything is
 * written or connects (pure: the CLI, `flight serve` and the unit tests call the same function).
 *
 * The rule for apps: the new server joins every app that runs on the `like` server (default:
 * the cluster's first web server for a web server, else its first other server), with a copy
 * of that app's entry for it, except what must not run twice by accident:
 *   - `web` (the PHP-FPM pool sizes) is always copied: capacity per server is what "like" means;
 *   - `queues` only with --copy queues: each worker server multiplies the workers (and their
 *     load on the database and the queue);
 *   - `scheduler` only with --copy scheduler: two schedulers run every scheduled task twice,
 *     unless every task uses onOneServer();
 *   - `deploy_commands` only with --copy deploy_commands: they are per server by design, and
 *     typically migrations, which must run once per release.
 */
import { kindError } from '../kinds.js';
import { RESERVED_SERVER_NAMES } from '../definitions/names.js';
import type { AddedServer, Definitions, Server } from '../definitions/types.js';
import { invalid } from '../errors.js';
import type { AddedRecordData, AppEntryData } from './state-file.js';

export const COPYABLE = ['queues', 'scheduler', 'deploy_commands'] as const;
export type Copyable = (typeof COPYABLE)[number];

export interface AddRequest {
  cluster: string;
  name: string;
  host: string;
  web: boolean;
  /** Default: the cluster's first web server with `web`, else its first non-web server. */
  like?: string;
  /** The address nginx listens on (see planListen). */
  listen?: string;
  /** Override the like server's ssh settings. `key` as it should be written in the state file. */
  ssh?: { user?: string; port?: number; key?: string };
  copy?: Copyable[];
}

export interface AddPlan {
  record: AddedRecordData;
  like: string;
  /** Apps the server joins, in definitions order. */
  apps: string[];
  /** An earlier add of this server did not finish: this one takes over its record. */
  resumes: AddedServer | null;
  /** One line per app: what was copied, and what was left out and how to have it. */
  notes: string[];
}

export interface PlanContext {
  /** The ssh mapping of each server of the cluster as written in its file (paths unresolved). */
  rawSsh: Map<string, Record<string, unknown> | undefined>;
  now: string;
  by: string;
  pid: number;
  /** Whether a process of this machine is alive (an add in progress elsewhere is not resumed). */
  alive: (pid: number) => boolean;
}

export function planAdd(defs: Definitions, req: AddRequest, ctx: PlanContext): AddPlan {
  const cluster = defs.clusters.get(req.cluster);
  if (!cluster) throw invalid(`unknown cluster '${req.cluster}' (clusters: ${[...defs.clusters.keys()].join(', ') || 'none'})`);
  const bad = kindError('server-name', req.name, 'the server name')
    ?? kindError('host', req.host, 'the host')
    ?? (req.listen !== undefined ? kindError('ip', req.listen, 'the listen address') : undefined);
  if (bad) throw invalid(bad);
  if (RESERVED_SERVER_NAMES.has(req.name)) throw invalid(`server name '${req.name}' is reserved (a group or the implicit localhost)`);
  for (const c of req.copy ?? []) if (!COPYABLE.includes(c)) throw invalid(`--copy ${c}: expected any of ${COPYABLE.join(', ')}`);

  const resumes = resumable(defs, req, ctx);
  // Name and address: free among every server of every cluster, added ones in any state too.
  const port = (s: Pick<Server, 'ssh'>) => s.ssh.port ?? defs.config.ssh.port ?? 22;
  const everyone: { name: string; host: string; port: number; where: string }[] = [
    ...[...defs.clusters.values()].flatMap((c) => c.servers.map((s) => ({ name: s.name, host: s.host, port: port(s), where: `cluster '${c.name}'` }))),
    ...defs.added.map((s) => ({ name: s.name, host: s.host, port: port(s), where: `cluster '${s.cluster}' (${s.file}, ${s.status})` })),
  ].filter((s) => !resumes || s.name !== resumes.name);
  const sameName = everyone.find((s) => s.name === req.name);
  if (sameName) throw invalid(`server name '${req.name}' is taken: a server of ${sameName.where}`);

  const like = likeServer(cluster.servers, req);
  const ssh = { ...(ctx.rawSsh.get(like.name) ?? {}), ...definedOnly(req.ssh ?? {}) };
  const sshPort = (ssh.port as number | undefined) ?? defs.config.ssh.port ?? 22;
  const sameHost = everyone.find((s) => s.host === req.host && s.port === sshPort);
  if (sameHost) throw invalid(`host ${req.host} (port ${sshPort}) is taken: server '${sameHost.name}' of ${sameHost.where}`);

  const apps: string[] = [];
  const entries: Record<string, AppEntryData> = {};
  const notes: string[] = [];
  const copy = new Set(req.copy ?? []);
  for (const app of defs.apps.values()) {
    if (app.cluster !== cluster.name) continue;
    const source = app.servers.find((s) => s.name === like.name);
    if (!source) continue;
    apps.push(app.name);
    const earlier = resumes?.apps[app.name];
    entries[app.name] = {
      // An app the unfinished add already joined stays joined: its release record says so.
      joined: earlier?.joined ?? false,
      web: { ...source.web },
      deploy_commands: copy.has('deploy_commands') ? [...source.deploy_commands] : [],
      queues: copy.has('queues') ? source.queues.map((q) => ({ ...q })) : [],
      scheduler: copy.has('scheduler') ? source.scheduler : false,
    };
    const left = [
      source.queues.length && !copy.has('queues') ? `queues (${source.queues.map((q) => q.name).join(', ')})` : '',
      source.scheduler && !copy.has('scheduler') ? 'scheduler' : '',
      source.deploy_commands.length && !copy.has('deploy_commands') ? `deploy_commands (${source.deploy_commands.join('; ')})` : '',
    ].filter(Boolean);
    const copied = ['web pool', ...[...copy].filter((c) => (c === 'scheduler' ? source.scheduler : source[c].length > 0))];
    notes.push(`${app.name}: copies ${copied.join(', ')} from ${like.name}${left.length ? `; not copied: ${left.join(', ')} (--copy ${COPYABLE.join(',')} copies them)` : ''}`);
  }
  // Apps an unfinished add joined, whatever the like server runs now, stay in the record.
  for (const [app, e] of Object.entries(resumes?.apps ?? {})) {
    if (e.joined && !entries[app]) {
      apps.push(app);
      entries[app] = { joined: true, web: { ...e.web }, deploy_commands: [...e.deploy_commands], queues: e.queues.map((q) => ({ ...q })), scheduler: e.scheduler };
      notes.push(`${app}: already joined by the earlier add, kept`);
    }
  }

  const listen = planListen(req, like);
  const record: AddedRecordData = {
    name: req.name,
    host: req.host,
    web_server: req.web,
    ...(listen !== null ? { listen } : {}),
    ...(Object.keys(ssh).length ? { ssh } : {}),
    like: like.name,
    status: 'joining',
    since: ctx.now,
    by: ctx.by,
    pid: ctx.pid,
    apps: entries,
  };
  return { record, like: like.name, apps, resumes, notes };
}

/** An earlier add of the same server that did not finish (failed, or its process is gone). */
function resumable(defs: Definitions, req: AddRequest, ctx: PlanContext): AddedServer | null {
  const rec = defs.added.find((s) => s.name === req.name);
  if (!rec) return null;
  if (rec.cluster !== req.cluster) return null; // reported as a taken name
  if (rec.status === 'ready') throw invalid(`server '${req.name}' was already added to cluster '${req.cluster}' (ready since ${rec.since}; ${rec.file})`);
  if (rec.status === 'joining' && rec.by === ctx.by && rec.pid !== null && rec.pid !== ctx.pid && ctx.alive(rec.pid)) {
    throw invalid(`server '${req.name}' is being added right now (process ${rec.pid} on ${rec.by}, since ${rec.since})`);
  }
  if (rec.status === 'joining' && rec.by !== ctx.by) {
    throw invalid(`server '${req.name}' is being added by ${rec.by} (since ${rec.since}); if that run is dead, \`flight server:remove ${req.cluster} ${req.name}\` first`);
  }
  if (rec.host !== req.host) {
    throw invalid(`server '${req.name}' was being added with host ${rec.host}, not ${req.host}: \`flight server:remove ${req.cluster} ${req.name}\` first`);
  }
  return rec;
}

function likeServer(servers: Server[], req: AddRequest): Server {
  if (req.like !== undefined) {
    const s = servers.find((x) => x.name === req.like);
    if (!s) throw invalid(`--like ${req.like}: not a server of cluster '${req.cluster}' (its servers: ${servers.map((x) => x.name).join(', ')})`);
    return s;
  }
  const s = servers.find((x) => x.web_server === req.web);
  if (!s) throw invalid(`cluster '${req.cluster}' has no ${req.web ? 'web' : 'non-web'} server to copy app settings from: name one with --like SERVER`);
  return s;
}

/**
 * Where nginx listens on the new server: --listen when given; a server that is not a web server
 * needs none. Otherwise the like server says: listening everywhere stays so, and listening on
 * its own address becomes listening on the new server's. Any other address is the like
 * server's own (a private interface, say) and cannot be guessed for another machine.
 */
export function planListen(req: Pick<AddRequest, 'web' | 'listen' | 'host' | 'name'>, like: Server): string | null {
  if (req.listen !== undefined) return req.listen;
  if (!req.web || like.listen === null) return null;
  if (like.listen === like.host) return req.host;
  throw invalid(`${like.name} has nginx listen on ${like.listen}, an address of its own: give ${req.name} one with --listen ADDRESS`);
}

function definedOnly(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
