/** up, down, status, stop, start: the lab as a whole, under one lock per state dir. */
import fs from 'node:fs';
import { failed, invalid } from '../errors.js';
import { FIRST_ADDRESS, serverAddresses, serverIndex, serverName } from './addresses.js';
import { ensureBase } from './base.js';
import { isWeb, renderClusterFile, writeClusterFile } from './cluster-file.js';
import { ensureClientKey, writeKnownHosts, writeSshConfig, type KnownServer } from './keys.js';
import { withLock } from './lock.js';
import { overlayWorks } from './overlay.js';
import { labPaths, serverPaths, type LabPaths } from './paths.js';
import { listeners, portHolder, sshAnswers } from './ports.js';
import { requireNamespaces, requirePrograms, requireRoot, START_PROGRAMS } from './prereq.js';
import { pool, processStart, waitFor } from './proc.js';
import { isRunning, launch, prepareRoot, stop } from './server.js';
import { findServer, readState, writeState } from './state.js';
import { mountsUnder, strayProcesses, unmountAll } from './strays.js';
import type { LabDownOptions, LabOptions, LabServerInfo, LabState, LabUpOptions, LabUpResult, ServerRecord } from './types.js';

const MAX_SERVERS = 250;
const silent = () => {};

/** Where the lab's servers' sshd listen when port 22 is taken on every address. */
export const FALLBACK_PORT = 2222;

/**
 * The servers' sshd port: --port, else $FLIGHT_LAB_PORT, else 22, unless something on this
 * machine (its own sshd, on most VMs) holds port 22 on every address, 127.0.0.x included: then
 * FALLBACK_PORT, and the log says so.
 */
function defaultPort(log: (line: string) => void): number {
  const fromEnv = process.env.FLIGHT_LAB_PORT;
  if (fromEnv) return Number(fromEnv);
  const everywhere = [...listeners(22)].some((a) => a === '0.0.0.0' || a === '::');
  if (!everywhere) return 22;
  log(`flight lab: this machine listens on port 22 on every address (its own sshd): the lab's servers use port ${FALLBACK_PORT} (--port or FLIGHT_LAB_PORT choose another)`);
  return FALLBACK_PORT;
}

/** FLIGHT_LAB_FIRST, with FLIGHT_LAB_DIR, gives a second lab of its own beside the default one. */
const defaultFirst = (): string => process.env.FLIGHT_LAB_FIRST || FIRST_ADDRESS;

function checkPaths(paths: LabPaths): void {
  // overlayfs takes its layers as `lowerdir=...,upperdir=...`: these characters would split them.
  for (const dir of [paths.dir, paths.cache]) {
    if (/[,:\s]/.test(dir)) throw invalid(`the lab cannot use ${dir}: its path must not contain commas, colons or spaces`);
  }
}

/** What starting a server needs; checked only when one is about to start, so a running lab answers fast. */
async function startPrerequisites(paths: LabPaths): Promise<void> {
  requireRoot();
  requirePrograms(START_PROGRAMS);
  await requireNamespaces();
  checkPaths(paths);
}

function hostKeyOf(paths: LabPaths, name: string): string | null {
  try {
    return fs.readFileSync(`${serverPaths(paths, name).hostKey}.pub`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** known_hosts and ssh_config follow state.json: every server the lab has, running or not. */
function writeSshFiles(paths: LabPaths, state: LabState): void {
  const known: KnownServer[] = [];
  for (const s of state.servers) {
    const hostKey = hostKeyOf(paths, s.name);
    if (hostKey) known.push({ name: s.name, address: s.address, port: s.port, hostKey });
  }
  // A lab whose first `up` stopped before any key was made (e.g. its address was taken) has
  // no ssh folder yet; `down` must still work on it.
  fs.mkdirSync(paths.sshDir, { recursive: true, mode: 0o700 });
  writeKnownHosts(paths, known);
  writeSshConfig(paths, known);
}

/** `sshd` may be passed when just checked, to spare a second round of connections. */
async function info(paths: LabPaths, rec: ServerRecord, web: boolean, sshd?: boolean): Promise<LabServerInfo> {
  const running = isRunning(rec);
  return {
    name: rec.name,
    address: rec.address,
    port: rec.port,
    user: 'root',
    key: paths.key,
    knownHosts: paths.knownHosts,
    web,
    pid: running ? rec.pid : null,
    running,
    sshd: running && (sshd ?? (await sshAnswers(rec.address, rec.port))),
  };
}

async function killStrays(root: string): Promise<void> {
  const pids = strayProcesses(root);
  if (!pids.length) return;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(() => strayProcesses(root).length === 0 && pids.every((p) => processStart(p) === null), 5000, 20);
}

function takenError(rec: ServerRecord, holder: string): Error {
  const hint =
    holder.startsWith('0.0.0.0') || holder.startsWith('[::]')
      ? ` (a server on this machine listens on every address; give the lab another port with --port or FLIGHT_LAB_PORT)`
      : ' (stop it, or put the lab on other addresses with --first)';
  return invalid(`${rec.address}:${rec.port}, wanted by ${rec.name}, is taken by something that is not a lab server (a socket listens on ${holder})${hint}`);
}

/**
 * Start the given stopped servers in parallel; the state is saved whatever happens. Returns the
 * seconds spent making the base image ready (0 when it was).
 */
async function startServers(paths: LabPaths, state: LabState, recs: ServerRecord[], parallel: number, log: (line: string) => void): Promise<number> {
  if (!recs.length) return 0;
  await startPrerequisites(paths);
  // A process that died holding the lock (a test run killed by its timeout) may have left
  // servers running that state.json never heard of; they would hold the addresses.
  for (const rec of recs) await killStrays(serverPaths(paths, rec.name).root);
  const current = listeners(recs[0]!.port);
  for (const rec of recs) {
    const holder = portHolder(rec.address, rec.port, current);
    if (holder) throw takenError(rec, holder);
  }
  const { base, seconds } = await ensureBase(paths.cache, log);
  if (seconds) log(`base image ready in ${seconds.toFixed(1)} s`);
  for (const rec of recs) rec.base ||= base.hash;
  const clientKey = await ensureClientKey(paths);
  const errors: string[] = [];
  try {
    await pool(recs, parallel, async (rec) => {
      try {
        const onBase = await prepareRoot(paths, rec, base, log);
        await launch(paths, rec, onBase, clientKey);
        log(`${rec.name} up at ${rec.address} (pid ${rec.pid})`);
      } catch (err) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    });
  } finally {
    writeState(paths, state);
    writeSshFiles(paths, state);
  }
  if (errors.length) throw failed(errors.join('\n'));
  return seconds;
}

/**
 * Whether a running server's sshd answers. Other tests may be working on the server right now,
 * so a slow answer (a busy machine, sshd's MaxStartups throttling) gets a second, patient try
 * before the server is declared broken and restarted under them.
 */
async function answers(rec: ServerRecord): Promise<boolean> {
  return (await sshAnswers(rec.address, rec.port, 3000)) || (await sshAnswers(rec.address, rec.port, 10_000));
}

export async function labUp(opts: LabUpOptions = {}): Promise<LabUpResult> {
  const t0 = Date.now();
  const log = opts.log ?? silent;
  const paths = labPaths(opts.dir, opts.cacheDir);
  const count = opts.servers ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > MAX_SERVERS) throw invalid(`--servers must be a whole number from 1 to ${MAX_SERVERS}, not ${count}`);
  const port = opts.port ?? defaultPort(log);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`the lab's ssh port must be 1-65535, not ${port}`);
  const addresses = serverAddresses(opts.first ?? defaultFirst(), count);
  requireRoot();
  checkPaths(paths);
  fs.mkdirSync(paths.dir, { recursive: true, mode: 0o700 });

  return withLock(paths.lock, 'the lab', async () => {
    const state = readState(paths);
    const wanted: ServerRecord[] = [];
    for (let i = 1; i <= count; i++) {
      const name = serverName(i);
      const address = addresses[i - 1]!;
      let rec = findServer(state, name);
      if (rec && (rec.address !== address || rec.port !== port)) {
        if (isRunning(rec)) {
          throw invalid(`${name} is running at ${rec.address}:${rec.port}, not ${address}:${port}: run \`flight lab down\` first to move the lab`);
        }
        rec.address = address;
        rec.port = port;
      }
      if (!rec) {
        const mode = (await overlayWorks(paths.dir)) ? 'overlay' : 'copy';
        rec = { name, address, port, base: '', mode, pid: null, pidStart: null, unsharePid: null, unshareStart: null };
        state.servers.push(rec);
      }
      wanted.push(rec);
    }
    const clash = state.servers.find((s) => !wanted.includes(s) && isRunning(s) && addresses.includes(s.address));
    if (clash) throw invalid(`${clash.name} already runs at ${clash.address}: run \`flight lab down\` first to renumber the lab`);

    // A server whose PID 1 lives but whose sshd is gone is of no use to anyone: restart it.
    const answering = await pool(wanted, 16, async (rec) => isRunning(rec) && (await answers(rec)));
    await pool(wanted, 16, async (rec, i) => {
      if (isRunning(rec) && !answering[i]) {
        log(`${rec.name} runs but sshd does not answer: restarting it`);
        await stop(rec);
      }
    });
    const toStart = wanted.filter((r) => !isRunning(r));
    const baseSeconds = await startServers(paths, state, toStart, opts.parallel ?? 16, log);
    writeState(paths, state);
    writeSshFiles(paths, state);

    let clusterFile: string | null = null;
    // Servers just started were waited for until sshd answered.
    const servers = await Promise.all(wanted.map((rec, i) => info(paths, rec, isWeb(i + 1, count), toStart.includes(rec) || answering[i])));
    if (opts.defs) {
      clusterFile = writeClusterFile(opts.defs, renderClusterFile(servers.map((s) => ({ ...s })), paths.key, paths.knownHosts));
    }
    return {
      dir: paths.dir,
      servers,
      started: toStart.map((r) => r.name),
      clusterFile,
      sshConfig: paths.sshConfig,
      baseSeconds,
      seconds: (Date.now() - t0) / 1000,
    };
  });
}

export async function labDown(opts: LabDownOptions = {}): Promise<{ stopped: string[] }> {
  const paths = labPaths(opts.dir, opts.cacheDir);
  requireRoot();
  if (!fs.existsSync(paths.dir)) return { stopped: [] };
  return withLock(paths.lock, 'the lab', async () => {
    const state = readState(paths);
    const running = state.servers.filter(isRunning);
    await Promise.all(state.servers.map((rec) => stop(rec)));
    await killStrays(paths.serversDir);
    await unmountAll(mountsUnder(paths.dir));
    if (opts.purge) {
      fs.rmSync(paths.serversDir, { recursive: true, force: true });
      state.servers = [];
    }
    writeState(paths, state);
    writeSshFiles(paths, state);
    return { stopped: running.map((r) => r.name) };
  });
}

export async function labStatus(opts: LabOptions = {}): Promise<LabServerInfo[]> {
  const paths = labPaths(opts.dir, opts.cacheDir);
  const state = readState(paths);
  const count = state.servers.length;
  return Promise.all(state.servers.map((rec) => info(paths, rec, isWeb(serverIndex(rec.name) ?? 1, count))));
}

function known(state: LabState, name: string, paths: LabPaths): ServerRecord {
  const rec = findServer(state, name);
  if (!rec) {
    const names = state.servers.map((s) => s.name).join(', ') || 'none: run `flight lab up` first';
    throw invalid(`no lab server named ${name} in ${paths.dir} (servers: ${names})`);
  }
  return rec;
}

export async function labStop(name: string, opts: LabOptions = {}): Promise<{ stopped: boolean }> {
  const paths = labPaths(opts.dir, opts.cacheDir);
  requireRoot();
  return withLock(paths.lock, 'the lab', async () => {
    const state = readState(paths);
    const rec = known(state, name, paths);
    const wasRunning = isRunning(rec);
    await stop(rec);
    writeState(paths, state);
    return { stopped: wasRunning };
  });
}

export async function labStart(name: string, opts: LabOptions = {}): Promise<LabServerInfo> {
  const paths = labPaths(opts.dir, opts.cacheDir);
  requireRoot();
  return withLock(paths.lock, 'the lab', async () => {
    const state = readState(paths);
    const rec = known(state, name, paths);
    if (isRunning(rec) && !(await answers(rec))) await stop(rec);
    if (!isRunning(rec)) await startServers(paths, state, [rec], 1, opts.log ?? silent);
    return info(paths, rec, isWeb(serverIndex(rec.name) ?? 1, state.servers.length));
  });
}
