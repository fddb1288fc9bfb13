/**
 * The steps of adding or removing a server that act on one app's servers directly, one module
 * call each (the engine's callModule): the app's deploy lock (waited for while a release holds
 * it), the joined-servers record beside it, whether the app is set up on a host, the commit a
 * host serves, and the .env copied from a server in use.
 */
import { argv } from '../command.js';
import { appLayout } from '../definitions/layout.js';
import { callModule, hostContext } from '../engine/module-call.js';
import { failed, messageOf } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { copy } from '../../modules/copy.js';
import { deploy_lock } from '../../modules/deploy_lock.js';
import { joined_servers } from '../../modules/joined_servers.js';
import { release_info, type ReleaseState } from '../../modules/release_info.js';
import type { Session } from './session.js';

const LOCK_POLL_MS = 250;
const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;

/**
 * The app's deploy lock, where releases take it: on its first server (never the one being
 * added or removed, which the definitions list last). Waits while a release holds it.
 */
export async function takeLock(s: Session, host: Host, app: string, home: string): Promise<void> {
  const timeout = s.o.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
  const deadline = Date.now() + timeout;
  let shown = '';
  for (;;) {
    const res = await callModule(s.pool, host, deploy_lock, { path: appLayout(home).lock, state: 'present', run: s.runId, who: s.who, detail: `${s.action} server ${s.name}` });
    if (!res.failed) return;
    const holder = res.data?.holder as string | undefined;
    if (holder === undefined) throw failed(`${app}: deploy lock on ${host.name}: ${res.msg}`);
    if (Date.now() >= deadline) throw failed(`${app}: gave up after ${Math.round(timeout / 1000)} s waiting for its deploy lock on ${host.name}, held by ${holder}`);
    if (holder !== shown) s.r.step(`${app}: waiting for the deploy lock on ${host.name}, held by ${holder}`);
    shown = holder;
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

export async function freeLock(s: Session, host: Host, app: string, home: string): Promise<void> {
  try {
    const res = await callModule(s.pool, host, deploy_lock, { path: appLayout(home).lock, state: 'absent', run: s.runId });
    if (res.failed) throw new Error(res.msg);
  } catch (err) {
    s.r.step(`${app}: could not release the deploy lock on ${host.name} (${messageOf(err)}): \`flight app:release ${app} SHA --force-unlock\` breaks it`);
  }
}

/** The joined-servers record beside the app's lock, read (never changed). */
export async function joinedRecords(s: Session, host: Host, home: string): Promise<{ state: string; name: string }[]> {
  const res = await callModule(s.pool, host, joined_servers, { path: appLayout(home).servers, servers: [] });
  return (res.data?.records ?? []) as { state: string; name: string }[];
}

export async function recordMembership(s: Session, lockHost: Host, home: string, state: 'joined' | 'left'): Promise<void> {
  const res = await callModule(s.pool, lockHost, joined_servers, { path: appLayout(home).servers, name: s.name, state, cluster: s.cluster });
  if (res.failed) throw failed(`${lockHost.name}: ${res.msg}`);
}

/**
 * Whether the app was ever configured or released on the host (its .flight folder exists):
 * if not, there is no release to copy and no lock to take, and taking one would create the
 * app's home as root before its user exists.
 */
export async function isSetUp(s: Session, host: Host, home: string): Promise<boolean> {
  const ctx = await hostContext(s.pool, host);
  return (await ctx.exec(argv('test', '-d', appLayout(home).state))).code === 0;
}

/** The commit of the release `current` points to on a host, or null when there is none. */
export async function currentSha(s: Session, host: Host, home: string): Promise<string | null> {
  const res = await callModule(s.pool, host, release_info, { home });
  if (res.failed) throw failed(`${host.name}: ${res.msg}`);
  const info = res.data as unknown as ReleaseState;
  if (!info.current) return null;
  const sha = info.releases.find((x) => x.id === info.current)?.sha;
  if (!sha) throw failed(`${host.name}: the current release ${info.current} has no REVISION (an incomplete release is current)`);
  return sha;
}

/** The app's .env is made once, by hand or env:push: the new server gets the one in use. */
export async function copyEnv(s: Session, app: string, home: string, from: Host, to: Host): Promise<void> {
  const file = `${appLayout(home).shared}/.env`;
  const src = await hostContext(s.pool, from);
  if ((await src.exec(argv('test', '-f', file))).code !== 0) {
    s.r.step(`${app}: no .env on ${from.name} to copy`);
    return;
  }
  const content = (await src.get(file)).toString('utf8');
  const res = await callModule(s.pool, to, copy, { content, dest: file, owner: app, group: app, mode: '0600', secret: true });
  if (res.failed) throw failed(`${app}: copying .env to ${to.name}: ${res.msg}`);
  s.r.step(`${app}: .env copied from ${from.name}${res.changed ? '' : ' (already the same)'}`);
}
