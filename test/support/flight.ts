/**
 * Shared helpers for end-to-end tests that drive Flight the way an operator does: the real
 * `flight` / `flight-play` commands as child processes (with `--json`, so every host result and
 * the recap can be asserted on), a private definitions folder per test file (a copy of
 * inventory/ with the lab's cluster file written by `flight lab up --defs`), a fixture git
 * repository whose commits the tests release, and plain HTTP to the lab's nginx.
 *
 * Nothing here talks to anything but 127.0.0.0/8 and the local filesystem.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { CACHE_UNDER_HOME, mirrorDir } from '../../modules/git_archive.js';
import { labStatus } from '../../src/lab/index.js';
import { ROOT } from '../../src/paths.js';
import type { HostStats, RunEvent } from '../../src/runner/events.js';
import type { LabServer } from './lab.js';

export { ROOT };
export const FLIGHT_BIN = path.join(ROOT, 'dist', 'src', 'cli', 'flight.js');
export const FLIGHT_PLAY_BIN = path.join(ROOT, 'dist', 'src', 'cli', 'flight-play.js');
export const FIXTURE_APP = path.join(ROOT, 'test', 'fixtures', 'app');

export type RecapEvent = Extract<RunEvent, { event: 'recap' }>;
export type HostResultEvent = Extract<RunEvent, { event: 'host_result' }>;

export interface FlightRun {
  /** The command line after the program name, as run (with `--json` when it was added). */
  args: string[];
  code: number;
  /** Every JSON event printed on stdout, in order. */
  events: RunEvent[];
  /** The last event when it is the recap; undefined when the run stopped before any host work. */
  recap?: RecapEvent;
  /** stdout lines that were not JSON events (with --json there should be none). */
  stray: string[];
  stdout: string;
  stderr: string;
  ms: number;
}

export interface FlightOptions {
  /** Which command: `flight` (default) or `flight-play`. */
  bin?: 'flight' | 'flight-play';
  /** Add `--json` (default: yes, except for `flight lab ...`, which has no event stream). */
  json?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the run after this long (default 15 min: a first provision installs packages). */
  timeoutMs?: number;
  /**
   * Called with each JSON event as its line arrives (not at the end), with the child process:
   * for tests that time phases of a run (when the switch happened) or act in the middle of one
   * (stop a server, kill the run). Date.now() in the callback is the event's arrival time.
   */
  onEvent?: (e: RunEvent, child: ChildProcess) => void;
  /** Called with every stdout line as it arrives, JSON or not (e.g. plain output's last line). */
  onLine?: (line: string, child: ChildProcess) => void;
}

/**
 * Run the real CLI (the compiled dist/ build) as a child process and parse what it printed.
 * Never throws for a non-zero exit: the exit code is part of what tests assert. A start that
 * failed on a half-written build (see below) is retried.
 */
export async function flight(args: string[], opts: FlightOptions = {}): Promise<FlightRun> {
  for (let attempt = 1; ; attempt++) {
    const run = await flightOnce(args, opts);
    // dist/ is shared by everyone working in this checkout, and a `tsc` writing it while a test
    // starts the CLI shows up as a module link error before Flight runs at all. That is never
    // an outcome of Flight itself: wait for the build to finish and start again.
    if (attempt < 4 && run.code === 1 && run.events.length === 0 && STALE_BUILD.test(run.stderr)) {
      await new Promise((r) => setTimeout(r, 5000));
      continue;
    }
    return run;
  }
}

const STALE_BUILD = /SyntaxError: The requested module '[^']+' does not provide an export named|ERR_MODULE_NOT_FOUND/;

function flightOnce(args: string[], opts: FlightOptions): Promise<FlightRun> {
  const bin = opts.bin === 'flight-play' ? FLIGHT_PLAY_BIN : FLIGHT_BIN;
  const json = opts.json ?? !(opts.bin !== 'flight-play' && args[0] === 'lab');
  const fullArgs = json && !args.includes('--json') ? [...args, '--json'] : args;
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    // CI=1 and no TTY: the plain reporter, no colours, when --json is not asked for.
    const child = spawn(process.execPath, [bin, ...fullArgs], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, CI: '1', FORCE_COLOR: '0', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let partial = '';
    child.stdout.on('data', (b: Buffer) => {
      out.push(b);
      if (!opts.onLine && (!json || !opts.onEvent)) return;
      const lines = (partial + b.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        opts.onLine?.(line, child);
        if (!json || !opts.onEvent) continue;
        let e: unknown;
        try {
          e = JSON.parse(line);
        } catch {
          continue;
        }
        if (e && typeof e === 'object' && typeof (e as { event?: unknown }).event === 'string') opts.onEvent(e as RunEvent, child);
      }
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15 * 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const events: RunEvent[] = [];
      const stray: string[] = [];
      for (const line of stdout.split('\n')) {
        if (!line.trim()) continue;
        if (!json) {
          stray.push(line);
          continue;
        }
        try {
          const e = JSON.parse(line) as RunEvent;
          if (e && typeof e === 'object' && typeof (e as { event?: unknown }).event === 'string') events.push(e);
          else stray.push(line);
        } catch {
          stray.push(line);
        }
      }
      const last = events.at(-1);
      resolve({
        args: fullArgs,
        code: code ?? (signal ? 128 : 1),
        events,
        recap: last?.event === 'recap' ? last : undefined,
        stray,
        stdout,
        stderr: signal ? `${stderr}\n[killed by ${signal} after ${Date.now() - t0} ms]` : stderr,
        ms: Date.now() - t0,
      });
    });
  });
}

/** The run succeeded: exit 0, a recap at the end, and (with --json) nothing but JSON events on stdout. */
export function assertOk(run: FlightRun): void {
  assert.equal(run.code, 0, describeRun(run));
  assert.deepEqual(run.stray, [], 'with --json, stdout carries only JSON events');
  assert.ok(run.recap, `a recap ends the run\n${describeRun(run)}`);
}

/** Host results of a run, optionally only those with one status / of one task. */
export function hostResults(run: FlightRun, filter: { status?: HostResultEvent['status']; task?: string; host?: string } = {}): HostResultEvent[] {
  return run.events.filter(
    (e): e is HostResultEvent =>
      e.event === 'host_result' &&
      (filter.status === undefined || e.status === filter.status) &&
      (filter.task === undefined || e.task === filter.task) &&
      (filter.host === undefined || e.host === filter.host),
  );
}

/** Results on the servers (not on the control machine, where `delegate_to: localhost` tasks run). */
export function serverResults(run: FlightRun): HostResultEvent[] {
  return hostResults(run).filter((e) => e.host !== 'localhost');
}

/** The recap's per-host stats; fails loudly (with the run's output) when there is no recap. */
export function recapHosts(run: FlightRun): Record<string, HostStats> {
  if (!run.recap) throw new Error(`no recap from flight ${run.args.join(' ')}\n${describeRun(run)}`);
  return run.recap.hosts;
}

/** {host: changed count} from the recap: `{lab-1: 0, ...}` is what a no-change run looks like. */
export function changedPerHost(run: FlightRun): Record<string, number> {
  return Object.fromEntries(Object.entries(recapHosts(run)).map(([h, s]) => [h, s.changed]));
}

/** The tasks that changed something, per host: what an assertion message should name. */
export function changedTasks(run: FlightRun): string[] {
  return hostResults(run, { status: 'changed' }).map((e) => `${e.host}: ${e.task}${e.msg ? ` (${e.msg})` : ''}`);
}

/** `host: task: message` for every failed or unreachable result. */
export function failures(run: FlightRun): string[] {
  return hostResults(run)
    .filter((e) => (e.status === 'failed' && !e.ignored) || e.status === 'unreachable')
    .map((e) => `${e.host}: ${e.task}: ${e.status}${e.msg ? `: ${e.msg}` : ''}`);
}

/** A compact account of a run for assertion messages: the command, exit code, failures, stderr. */
export function describeRun(run: FlightRun): string {
  const lines = [`flight ${run.args.join(' ')} -> exit ${run.code} in ${(run.ms / 1000).toFixed(1)} s`];
  for (const f of failures(run)) lines.push(`  ${f}`);
  if (run.stray.length) lines.push(`  stdout: ${run.stray.slice(-10).join('\n          ')}`);
  if (!run.recap && run.events.length) lines.push(`  no recap; last events: ${run.events.slice(-3).map((e) => JSON.stringify(e)).join('\n          ')}`);
  if (run.stderr.trim()) lines.push(`  stderr: ${run.stderr.trim().split('\n').slice(-15).join('\n          ')}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Definitions folders

export interface TempDefs {
  /** The definitions folder, for `--defs`. */
  dir: string;
  /** The lab whose cluster file is in clusters/lab.yml (its state dir; undefined: the default lab). */
  labDir?: string;
  /** apps/NAME.yml. */
  appFile(name: string): string;
  /** Point every app (or the given ones) at this repository: an absolute path or URL. */
  setRepo(repo: string, apps?: string[]): void;
  /** A copy of this folder (cluster file included) to break without touching this one. */
  copy(): TempDefs;
  /** Remove the folder (not the lab). */
  cleanup(): void;
}

export interface MakeDefsOptions {
  /** Lab state dir (`flight lab up --dir`); default: the default lab. */
  labDir?: string;
  /** First address of that lab (`--first`), e.g. 127.0.0.20. */
  first?: string;
  /** Servers in that lab (`--servers`, default 3). */
  servers?: number;
  /** Point every app at this repository. */
  repo?: string;
  /** Where to make the folder (default: the system temp dir). */
  parent?: string;
}

function tempDefs(dir: string, labDir: string | undefined): TempDefs {
  const self: TempDefs = {
    dir,
    labDir,
    appFile: (name) => path.join(dir, 'apps', `${name}.yml`),
    setRepo(repo, apps) {
      const names = apps ?? fs.readdirSync(path.join(dir, 'apps')).filter((f) => f.endsWith('.yml')).map((f) => f.slice(0, -4));
      for (const name of names) {
        const file = self.appFile(name);
        const text = fs.readFileSync(file, 'utf8');
        // The example apps carry a relative `repo:` (resolved from the definitions folder, so a
        // copy would lose it); the top-level key is one line, so replace that line.
        if (!/^repo:.*$/m.test(text)) throw new Error(`${file} has no top-level repo: line`);
        fs.writeFileSync(file, text.replace(/^repo:.*$/m, `repo: ${JSON.stringify(repo)}`));
      }
    },
    copy() {
      const to = fs.mkdtempSync(path.join(path.dirname(dir), 'flight-defs-'));
      fs.cpSync(dir, to, { recursive: true });
      return tempDefs(to, labDir);
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
  return self;
}

/**
 * A private definitions folder: inventory/ copied to a temp dir, then `flight lab up --defs DIR`
 * (with the lab options) writes the lab's clusters/lab.yml into it. `lab up` is idempotent: for a
 * lab that is already running it only writes the cluster file.
 */
export async function makeDefs(opts: MakeDefsOptions = {}): Promise<TempDefs> {
  const dir = fs.mkdtempSync(path.join(opts.parent ?? os.tmpdir(), 'flight-defs-'));
  fs.cpSync(path.join(ROOT, 'inventory'), dir, { recursive: true });
  const args = ['lab', 'up', '--defs', dir];
  if (opts.labDir) args.push('--dir', opts.labDir);
  if (opts.first) args.push('--first', opts.first);
  if (opts.servers) args.push('--servers', String(opts.servers));
  const up = await flight(args, { timeoutMs: 20 * 60_000 });
  if (up.code !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`flight lab up failed:\n${describeRun(up)}\n${up.stdout}`);
  }
  const defs = tempDefs(dir, opts.labDir);
  if (opts.repo) defs.setRepo(opts.repo);
  return defs;
}

/** The running servers of a lab (default: the default lab) in the shape sshRun takes. */
export async function labServers(labDir?: string): Promise<LabServer[]> {
  const servers = await labStatus({ dir: labDir });
  return servers.map((s) => ({ name: s.name, address: s.address, port: s.port, user: s.user, key: s.key, knownHosts: s.knownHosts, web: s.web }));
}

/**
 * A separate lab for one test file (its own state dir and addresses, e.g. a fresh one for check
 * mode), with a definitions folder for it. `down()` runs `flight lab down --dir DIR --purge` and
 * removes the folders; call it in an `after` hook or a finally.
 */
export async function makeLab(opts: { first: string; servers?: number; repo?: string; parent?: string }): Promise<{ labDir: string; defs: TempDefs; servers: LabServer[]; down(): Promise<FlightRun> }> {
  // Under /tmp, not os.tmpdir(): the lab refuses state dirs with commas, colons or spaces.
  const labDir = fs.mkdtempSync(path.join(opts.parent ?? '/tmp', 'flight-lab-'));
  let defs: TempDefs | undefined;
  const down = async () => {
    const r = await flight(['lab', 'down', '--dir', labDir, '--purge'], { timeoutMs: 5 * 60_000 });
    if (r.code === 0) fs.rmSync(labDir, { recursive: true, force: true });
    defs?.cleanup();
    return r;
  };
  try {
    defs = await makeDefs({ labDir, first: opts.first, servers: opts.servers, repo: opts.repo, parent: opts.parent });
    return { labDir, defs, servers: await labServers(labDir), down };
  } catch (err) {
    await down();
    throw err;
  }
}

/**
 * A lab of the test's own (fresh servers at `first`...), a scratch folder and a repository of the
 * Laravel example app or the stand-in app, all torn down when the test ends (`t.after`), the
 * lab with `--purge`.
 */
export async function privateLab(t: { after(fn: () => Promise<void>): void }, o: { name: string; first: string; servers: number; app: 'laravel' | 'stand-in' }): Promise<{ work: string; repo: FixtureRepo; lab: Awaited<ReturnType<typeof makeLab>> }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `flight-${o.name}-`));
  const repo = o.app === 'laravel' ? makeLaravelRepo(work) : makeFixtureRepo(work);
  const lab = await makeLab({ first: o.first, servers: o.servers, repo: repo.dir });
  t.after(async () => {
    const down = await lab.down();
    repo.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
    assert.equal(down.code, 0, `flight lab down --purge:\n${describeRun(down)}`);
  });
  return { work, repo, lab };
}

// ---------------------------------------------------------------------------------------------
// The fixture app's git repository

export interface FixtureRepo {
  dir: string;
  /** Every sha committed so far, oldest first (the first is the initial commit). */
  shas: string[];
  head(): string;
  /** Commit a new version (app/version.php says LABEL; `files` are written first) and return its sha. */
  commit(label: string, files?: Record<string, string>): string;
  /** Remove the repository and the mirror and archives Flight cached for it. */
  cleanup(): void;
}

const GIT_ID = ['-c', 'user.name=Flight tests', '-c', 'user.email=tests@flight.invalid', '-c', 'commit.gpgsign=false'];

/**
 * A git repository of test/fixtures/app (the stand-in app) in a temp dir with one commit (label
 * `v1`). Releases read it through its path, as the control machine would read a remote.
 */
export function makeFixtureRepo(parent: string = os.tmpdir()): FixtureRepo {
  const dir = fs.mkdtempSync(path.join(parent, 'flight-repo-'));
  fs.cpSync(FIXTURE_APP, dir, { recursive: true });
  const repo = fixtureRepo(dir);
  repo.git('init', '-q', '-b', 'main');
  repo.commit('v1');
  return repo;
}

/**
 * A git repository of the Laravel example app (examples/laravel, its Composer packages built
 * from Debian's Laravel and its composer.lock: scripts/laravel-app-repo) in a temp dir, with
 * the label `v1`. Later commits change app/version.php (and `files`), as with the stand-in.
 */
export function makeLaravelRepo(parent: string = os.tmpdir()): FixtureRepo {
  const dir = fs.mkdtempSync(path.join(parent, 'flight-laravel-'));
  execFileSync(path.join(ROOT, 'scripts', 'laravel-app-repo'), [dir, 'v1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const repo = fixtureRepo(dir);
  repo.shas.push(repo.head());
  return repo;
}

/** Commits and clean-up of a fixture repository in `dir`, whichever app it holds. */
function fixtureRepo(dir: string): FixtureRepo & { git(...args: string[]): string } {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...GIT_ID, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const shas: string[] = [];
  const commit = (label: string, files: Record<string, string> = {}) => {
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    }
    // Both apps' READMEs: app/version.php must keep the form `<?php return '<label>';`.
    if (!/^[\w.-]+$/.test(label)) throw new Error(`label '${label}': letters, digits, '.', '_' and '-' only`);
    fs.writeFileSync(path.join(dir, 'app', 'version.php'), `<?php return '${label}';\n`);
    git('add', '-A');
    git('commit', '-q', '-m', `Version ${label}`);
    const sha = git('rev-parse', 'HEAD');
    shas.push(sha);
    return sha;
  };
  return {
    dir,
    shas,
    git,
    head: () => git('rev-parse', 'HEAD'),
    commit,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
      // Where git_archive keeps its mirror (one per repository URL) and archives (one per commit).
      const cache = path.join(os.homedir(), CACHE_UNDER_HOME);
      const mirror = mirrorDir(cache, dir);
      fs.rmSync(mirror, { recursive: true, force: true });
      fs.rmSync(`${mirror}.lock`, { force: true });
      for (const sha of shas) fs.rmSync(path.join(cache, 'archives', `${sha}.tar.gz`), { force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP to the lab's nginx

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET http://ADDRESS:PORT/PATH with the given Host header (nginx picks the vhost by it). fetch()
 * cannot set Host, so this is node:http. Only loopback addresses are allowed.
 */
export function httpGet(address: string, host: string, urlPath = '/', opts: { port?: number; timeoutMs?: number; cookie?: string } = {}): Promise<HttpResponse> {
  if (!address.startsWith('127.')) return Promise.reject(new Error(`refusing to send a request to ${address}: tests stay on 127.0.0.0/8`));
  const headers: Record<string, string> = { Host: host, Connection: 'close', ...(opts.cookie ? { Cookie: opts.cookie } : {}) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: address, port: opts.port ?? 80, path: urlPath, method: 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`GET http://${address}${urlPath} (Host: ${host}) timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The fixture page's `key: value` lines as a record (sha, marker, version, greeting, user, ...). */
export function parsePage(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const m = /^([a-z_]+): ?(.*)$/.exec(line);
    if (m) fields[m[1]!] = m[2]!;
  }
  return fields;
}

/** The fixture page of DOMAIN as served by nginx at ADDRESS; throws on a status other than 200. */
export async function fetchPage(address: string, domain: string, urlPath = '/'): Promise<Record<string, string>> {
  const res = await httpGet(address, domain, urlPath);
  if (res.status !== 200) throw new Error(`GET http://${address}${urlPath} (Host: ${domain}): ${res.status}\n${res.body.slice(0, 500)}`);
  return parsePage(res.body);
}

/**
 * A visitor of DOMAIN with a cookie jar: each page it asks for (of any web server) carries the
 * cookies the last answers set, as a browser's would, so a session follows it across servers.
 */
export function visitor(domain: string): { page(address: string, urlPath?: string): Promise<Record<string, string>> } {
  const jar = new Map<string, string>();
  return {
    async page(address, urlPath = '/') {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await httpGet(address, domain, urlPath, { cookie: cookie || undefined });
      if (res.status !== 200) throw new Error(`GET http://${address}${urlPath} (Host: ${domain}): ${res.status}\n${res.body.slice(0, 500)}`);
      for (const line of [res.headers['set-cookie'] ?? []].flat()) {
        const [pair] = line.split(';');
        const eq = pair!.indexOf('=');
        if (eq > 0) jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
      return parsePage(res.body);
    },
  };
}

/** Poll until `probe` returns a value (not undefined) or the time is up; returns the last value or undefined. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs?: number }): Promise<T | undefined> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}
