/**
 * Elastic clusters: add a server to a running cluster, or take one out, while its apps keep
 * being released. The CLI verbs (`flight server:add`, `flight server:remove`) and `flight serve`
 * call these two functions; docs/elastic.md is the user's account of the rules.
 *
 * Adding, in order, stopping at the first failure:
 *   1. plan from the definitions (plan.ts): nothing is written or touched if the request is wrong;
 *   2. record the server as `joining` in clusters/<cluster>.servers.yml: from here on the
 *      definitions say it exists, and releases still leave it alone (definitions/added.ts);
 *   3. provision it, then configure every app it joins, each playbook limited to it;
 *   4. join each app under the app's deploy lock (so no release runs meanwhile): read the
 *      commit the app's first server serves, copy the app's .env from there, release that
 *      commit to the new server only, record it as joined, and write `joined` beside the lock
 *      (joined_servers) so a release that read the definitions earlier stops instead of
 *      leaving the new server behind; then let go of the lock;
 *   5. record it `ready`, and only then report it ready.
 * If a step fails, the apps it joined are left again (each under its lock) and the record says
 * `failed` with the reason: the server receives nothing, and the same command resumes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConnectionPool } from '../connection/index.js';
import { addedFileOf } from '../definitions/added.js';
import { loadDefinitions } from '../definitions/index.js';
import type { Definitions } from '../definitions/types.js';
import { withHostKeyPolicy } from '../engine/inventory.js';
import { FlightError, failed, invalid, messageOf } from '../errors.js';
import { buildInventory } from '../inventory/index.js';
import type { Host, Inventory } from '../inventory/types.js';
import { copyEnv, currentSha, freeLock, isSetUp, recordMembership, takeLock } from './app-steps.js';
import { planAdd, type AddPlan, type AddRequest } from './plan.js';
import { forgetServer } from './forget.js';
import { runBuiltin } from './run.js';
import type { ElasticOptions, ElasticReporter, Session } from './session.js';
import { editRecord, utcNow, whoAmI, type AddedRecordData } from './state-file.js';

export type { ElasticOptions, ElasticReporter } from './session.js';

export type AddServerOptions = ElasticOptions & AddRequest;

export interface AddServerResult {
  cluster: string;
  server: string;
  /** Each app it joined, and the commit it now serves (null: the app was never released). */
  apps: { app: string; sha: string | null }[];
  ms: number;
}

export interface RemoveServerOptions extends ElasticOptions {
  cluster: string;
  name: string;
  /** Leave the server's queue workers and scheduler running (default: stop them). */
  keepWorkers?: boolean;
}

export interface RemoveServerResult {
  cluster: string;
  server: string;
  /** Apps it was taken out of. */
  apps: string[];
  ms: number;
}

/** What addServer would do, or the `invalid` error it would throw; nothing is written or touched. */
export async function planServerAdd(o: AddServerOptions): Promise<AddPlan> {
  const defs = await loadDefinitions(path.resolve(o.defsDir));
  return planAdd(defs, o, { rawSsh: rawSsh(defs, o.cluster), now: utcNow(), by: whoAmI(), pid: process.pid, alive: processAlive });
}

export async function addServer(o: AddServerOptions, r: ElasticReporter): Promise<AddServerResult> {
  const t0 = Date.now();
  const defsDir = path.resolve(o.defsDir);
  const plan = await planServerAdd(o);
  r.step(`plan: ${o.name} (${o.host}${o.web ? ', web server' : ''}) joins cluster ${o.cluster} like ${plan.like}; apps: ${plan.apps.join(', ') || 'none'}${plan.resumes ? ` (resuming the add that ${plan.resumes.status === 'failed' ? `failed: ${plan.resumes.error ?? '?'}` : 'did not finish'})` : ''}`);
  for (const note of plan.notes) r.step(`  ${note}`);
  await editRecord(defsDir, o.cluster, o.name, () => plan.record);
  r.step(`recorded ${o.name} as joining in ${addedFileOf(o.cluster)}`);

  const s: Session = { o: { ...o, defsDir }, r, pool: new ConnectionPool(), cluster: o.cluster, name: o.name, action: 'add', runId: randomBytes(8).toString('hex'), who: `${whoAmI()} (server:add ${o.name})` };
  const joinedNow: string[] = [];
  try {
    const full = await loadDefinitions(defsDir, { include: [o.name] });
    const inventory = withHostKeyPolicy(buildInventory(full), o.hostKeyPolicy);

    r.step(`provision ${o.name}`);
    await runBuiltin('provision', { cluster: o.cluster }, o.name, playbookRun(s, inventory));
    for (const app of plan.apps) {
      r.step(`configure ${app} on ${o.name}`);
      // With the app's database server: it lets the new server in (its database accounts).
      await runBuiltin('configure', { app }, o.name, playbookRun(s, inventory), `app_${app}_database`);
    }
    const apps: AddServerResult['apps'] = [];
    for (const app of plan.apps) {
      if (plan.record.apps[app]!.joined) {
        r.step(`${app}: already joined (by the earlier add)`);
        apps.push({ app, sha: (await currentSha(s, inventory.hosts.get(o.name)!, full.apps.get(app)!.home)) ?? null });
        continue;
      }
      apps.push({ app, sha: await joinApp(s, full, inventory, app) });
      joinedNow.push(app);
    }
    await editRecord(defsDir, o.cluster, o.name, (rec) => {
      const { error: _error, pid: _pid, ...rest } = need(rec, o.name);
      return { ...rest, status: 'ready', since: utcNow() };
    });
    return { cluster: o.cluster, server: o.name, apps, ms: Date.now() - t0 };
  } catch (err) {
    await leaveAfterFailure(s, joinedNow);
    await editRecord(defsDir, o.cluster, o.name, (rec) => ({ ...need(rec, o.name), status: 'failed', since: utcNow(), error: firstLine(messageOf(err)) })).catch((e: unknown) => {
      r.step(`could not record ${o.name} as failed: ${messageOf(e)}`);
    });
    throw new FlightError(err instanceof FlightError ? err.kind : 'failed',
      `server:add ${o.name}: ${messageOf(err)}\n${o.name} is recorded as failed in ${addedFileOf(o.cluster)} and receives no release; ` +
      `run the same command again to retry, or \`flight server:remove ${o.cluster} ${o.name}\``, { cause: err });
  } finally {
    await s.pool.closeAll().catch(() => undefined);
  }
}

/**
 * Step 4 for one app; returns the commit the new server serves. The deploy lock is held from
 * reading the commit until the server is recorded as joined, so no release can switch the
 * app's other servers in between.
 */
async function joinApp(s: Session, defs: Definitions, inventory: Inventory, app: string): Promise<string | null> {
  const { lockHost, home, newHost } = appHosts(defs, inventory, app, s.name);
  if (!(await isSetUp(s, lockHost, home))) {
    s.r.step(`${app}: not set up on ${lockHost.name} yet (never configured nor released): ${s.name} joins with nothing to copy`);
    await setJoined(s, app, true);
    return null;
  }
  await takeLock(s, lockHost, app, home);
  try {
    const sha = await currentSha(s, lockHost, home);
    if (defs.apps.get(app)!.shared.includes('.env')) await copyEnv(s, app, home, lockHost, newHost);
    if (sha) {
      s.r.step(`${app}: release ${sha.slice(0, 12)} (what ${lockHost.name} serves) to ${s.name} only`);
      await runBuiltin('release', { app, sha, deployer: s.who }, s.name, playbookRun(s, inventory));
      const now = await currentSha(s, newHost, home);
      if (now !== sha) throw failed(`${app}: ${s.name} serves ${now ?? 'nothing'} after its release of ${sha}`);
    } else {
      s.r.step(`${app}: never released (no current release on ${lockHost.name}): ${s.name} gets the next release with the others`);
    }
    await setJoined(s, app, true);
    try {
      await recordMembership(s, lockHost, home, 'joined');
    } catch (err) {
      await setJoined(s, app, false);
      throw err;
    }
    s.r.step(`${app}: ${s.name} joined${sha ? ` at ${sha.slice(0, 12)}` : ''}`);
    return sha;
  } finally {
    await freeLock(s, lockHost, app, home);
  }
}

/** After a failed add: each app joined in this run is left again, under its lock. */
async function leaveAfterFailure(s: Session, apps: string[]): Promise<void> {
  if (!apps.length) return;
  const defs = await loadDefinitions(s.o.defsDir, { include: [s.name] });
  const inventory = withHostKeyPolicy(buildInventory(defs), s.o.hostKeyPolicy);
  for (const app of [...apps].reverse()) {
    try {
      await leaveApp(s, defs, inventory, app, false);
    } catch (err) {
      s.r.step(`${app}: could not take ${s.name} out again (${messageOf(err)}): \`flight server:remove ${s.cluster} ${s.name}\` will`);
    }
  }
}

/**
 * Takes the server out of one app, under the app's deploy lock: `left` beside the lock first
 * (a release that read the definitions before now stops), then the record; optionally its
 * queue workers and scheduler are stopped before the lock goes, so no release reinstalls them.
 */
async function leaveApp(s: Session, defs: Definitions, inventory: Inventory, app: string, stopWorkers: boolean): Promise<void> {
  const { lockHost, home } = appHosts(defs, inventory, app, s.name);
  if (!(await isSetUp(s, lockHost, home))) {
    await setJoined(s, app, false);
    if (stopWorkers) await retire(s, inventory, app);
    return;
  }
  await takeLock(s, lockHost, app, home);
  try {
    await recordMembership(s, lockHost, home, 'left');
    await setJoined(s, app, false);
    if (stopWorkers) await retire(s, inventory, app);
    s.r.step(`${app}: ${s.name} left`);
  } finally {
    await freeLock(s, lockHost, app, home);
  }
}

export async function removeServer(o: RemoveServerOptions, r: ElasticReporter): Promise<RemoveServerResult> {
  const t0 = Date.now();
  const defsDir = path.resolve(o.defsDir);
  const defs = await loadDefinitions(defsDir);
  const cluster = defs.clusters.get(o.cluster);
  if (!cluster) throw invalid(`unknown cluster '${o.cluster}' (clusters: ${[...defs.clusters.keys()].join(', ') || 'none'})`);
  const rec = defs.added.find((x) => x.name === o.name && x.cluster === o.cluster);
  const s: Session = { o: { ...o, defsDir }, r, pool: new ConnectionPool(), cluster: o.cluster, name: o.name, action: 'remove', runId: randomBytes(8).toString('hex'), who: `${whoAmI()} (server:remove ${o.name})` };
  try {
    if (!rec) {
      if (cluster.servers.some((x) => x.name === o.name)) {
        const files = [cluster.file, ...[...defs.apps.values()].filter((a) => a.servers.some((x) => x.name === o.name)).map((a) => a.file)];
        throw invalid(`'${o.name}' is written in the definitions by hand, not added by \`flight server:add\`: remove it from ${files.join(', ')} (Flight does not rewrite your files)`);
      }
      return { cluster: o.cluster, server: o.name, apps: await forgetServer(s, defs), ms: Date.now() - t0 };
    }
    if (rec.status === 'joining' && rec.by === whoAmI() && rec.pid !== null && rec.pid !== process.pid && processAlive(rec.pid)) {
      throw invalid(`'${o.name}' is being added right now (process ${rec.pid}, since ${rec.since}): stop that first`);
    }
    // Refused before anything changes when the definitions would not load without it (an app
    // file naming it by hand, say).
    await editRecord(defsDir, o.cluster, o.name, () => null, { dryRun: true });
    const full = await loadDefinitions(defsDir, { include: [o.name] });
    const inventory = withHostKeyPolicy(buildInventory(full), o.hostKeyPolicy);
    const apps = Object.keys(rec.apps);
    r.step(`remove ${o.name} from cluster ${o.cluster}; apps: ${apps.join(', ') || 'none'}${o.keepWorkers ? ' (queue workers and scheduler left running)' : ''}`);
    for (const app of apps) {
      if (rec.apps[app]!.joined) await leaveApp(s, full, inventory, app, !o.keepWorkers);
      else if (!o.keepWorkers) await retire(s, inventory, app);
    }
    await editRecord(defsDir, o.cluster, o.name, () => null);
    r.step(`dropped ${o.name} from ${addedFileOf(o.cluster)}`);
    return { cluster: o.cluster, server: o.name, apps, ms: Date.now() - t0 };
  } finally {
    await s.pool.closeAll().catch(() => undefined);
  }
}

/** The server's queue workers and scheduler for one app stop (best effort: it may be gone). */
async function retire(s: Session, inventory: Inventory, app: string): Promise<void> {
  s.r.step(`${app}: stop queue workers and scheduler on ${s.name}`);
  try {
    await runBuiltin('retire', { app }, s.name, playbookRun(s, inventory));
  } catch (err) {
    s.r.step(`${app}: could not stop them (${messageOf(err)}); ${s.name} receives no release from now on either way`);
  }
}

async function setJoined(s: Session, app: string, joined: boolean): Promise<void> {
  await editRecord(s.o.defsDir, s.cluster, s.name, (rec) => {
    const r = need(rec, s.name);
    if (r.apps[app]) r.apps[app]!.joined = joined;
    return r;
  });
}

function appHosts(defs: Definitions, inventory: Inventory, app: string, name: string): { lockHost: Host; newHost: Host; home: string } {
  const hosts = inventory.select(`app_${app}`);
  const lockHost = hosts.find((h) => h.name !== name);
  if (!lockHost) throw failed(`${app} runs on no server but ${name}: there is no release to copy and no lock to take`);
  return { lockHost, newHost: inventory.hosts.get(name)!, home: defs.apps.get(app)!.home };
}

function playbookRun(s: Session, inventory: Inventory) {
  return { inventory, pool: s.pool, reporter: s.r.playbook(), forks: 25, verbosity: s.o.verbosity ?? 0 };
}

/** Each server's `ssh:` as written in the cluster's files: copied as is, relative paths and all. */
function rawSsh(defs: Definitions, cluster: string): Map<string, Record<string, unknown> | undefined> {
  const out = new Map<string, Record<string, unknown> | undefined>();
  const files = [defs.clusters.get(cluster)?.file, addedFileOf(cluster)].filter((f): f is string => !!f);
  for (const file of files) {
    const abs = path.join(defs.dir, file);
    if (!fs.existsSync(abs)) continue;
    const data = parseDocument(fs.readFileSync(abs, 'utf8')).toJS() as { servers?: { name: string; ssh?: Record<string, unknown> }[] } | null;
    for (const sv of data?.servers ?? []) out.set(sv.name, sv.ssh);
  }
  return out;
}

function need(rec: AddedRecordData | undefined, name: string): AddedRecordData {
  if (!rec) throw failed(`${name} is no longer recorded (was its state file edited meanwhile?)`);
  return rec;
}

const firstLine = (msg: string) => msg.split('\n')[0]!.slice(0, 500);

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
