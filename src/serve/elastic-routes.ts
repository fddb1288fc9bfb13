/**
 * The elastic-cluster routes of `flight serve` (docs/elastic.md), behind the admin token:
 *
 *   POST   /clusters/CLUSTER/servers[?wait=1]            add (JSON body: name, host, web, ...)
 *   DELETE /clusters/CLUSTER/servers/NAME[?wait=1&keep_workers=1]
 *   GET    /clusters/CLUSTER/servers/NAME[/log]
 *
 * A request is checked as `flight server:add` checks it (422 with the same message, nothing
 * written) before a job starts. One job per server at a time in this process (409). The
 * server's record in the state file is its status, so nothing else is stored; a job's output
 * goes to DATA/elastic/CLUSTER/NAME.log, followed live like a deploy's log.
 */
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { CLUSTER_NAME_PATTERN } from '../definitions/schemas/common.js';
import { KINDS } from '../kinds.js';
import { FlightError, messageOf } from '../errors.js';
import { PlainReporter } from '../reporters/plain.js';
import { HttpError, parseJsonObject, readBody, sendJson } from './http.js';
import { DeployLog, streamFile } from './log.js';
import { addServer, planServerAdd, removeServer, type ElasticReporter } from '../cluster/elastic.js';
import { COPYABLE, type AddRequest, type Copyable } from '../cluster/plan.js';
import { readRecord, utcNow } from '../cluster/state-file.js';

/** The key of the admin token in the token store: `admin` is a reserved name, never an app's. */
export const ADMIN = 'admin';

const CLUSTER = new RegExp(CLUSTER_NAME_PATTERN);
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const FIELDS = ['name', 'host', 'web', 'like', 'listen', 'copy', 'ssh', 'lock_timeout'];

interface Job {
  kind: 'add' | 'remove';
  state: 'running' | 'succeeded' | 'failed';
  started: string;
  finished?: string;
  error?: string;
  result?: unknown;
  log: DeployLog;
  done: Promise<void>;
}

export interface ElasticApiOptions {
  defsDir: string;
  dataDir: string;
  say: (line: string) => void;
}

export interface RouteContext {
  parts: string[];
  method: string;
  query: URLSearchParams;
  /** Throws the router's 405 unless the method is one of these. */
  allow: (...methods: string[]) => void;
  /** Throws the router's 401/403/429 unless the request carries the admin token. */
  authenticate: () => void;
}

export class ElasticApi {
  private jobs = new Map<string, Job>();

  constructor(private o: ElasticApiOptions) {}

  /** Jobs still running, for a graceful stop: an add cut short leaves a deploy lock held. */
  async drain(timeoutMs: number): Promise<boolean> {
    const running = [...this.jobs.values()].filter((j) => j.state === 'running').map((j) => j.done);
    if (!running.length) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const done = await Promise.race([Promise.all(running).then(() => true), timeout]);
    clearTimeout(timer);
    return done;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, c: RouteContext): Promise<void> {
    const [, cluster = '', servers, name = '', tail] = c.parts;
    if (servers !== 'servers' || c.parts.length > 5 || !CLUSTER.test(cluster)) throw new HttpError(404, 'not found');
    if (c.parts.length === 3) {
      c.allow('POST');
      c.authenticate();
      return this.add(req, res, cluster, c.query);
    }
    if (!KINDS.get('server-name')!.test(name) || (c.parts.length === 5 && tail !== 'log')) throw new HttpError(404, 'not found');
    if (c.parts.length === 5) {
      c.allow('GET', 'HEAD');
      c.authenticate();
      return this.sendLog(res, cluster, name);
    }
    c.allow('GET', 'HEAD', 'DELETE');
    c.authenticate();
    if (c.method === 'DELETE') return this.remove(res, cluster, name, c.query);
    const view = this.view(cluster, name);
    if (!view.record && !view.job) throw new HttpError(404, `no server '${name}' added to cluster '${cluster}'`);
    sendJson(res, 200, view);
  }

  private async add(req: http.IncomingMessage, res: http.ServerResponse, cluster: string, query: URLSearchParams): Promise<void> {
    const body = parseJsonObject(await readBody(req));
    const request = toRequest(cluster, body);
    const lockTimeout = body.lock_timeout;
    if (lockTimeout !== undefined && (typeof lockTimeout !== 'number' || !(lockTimeout >= 0))) throw new HttpError(422, 'lock_timeout must be a number of seconds >= 0');
    this.notRunning(cluster, request.name);
    // The same checks as the CLI's, before a job exists: a wrong request writes nothing.
    await checked(() => planServerAdd({ ...request, defsDir: this.o.defsDir }));
    const job = this.start(cluster, request.name, 'add', (reporter) =>
      addServer({ ...request, defsDir: this.o.defsDir, lockTimeoutMs: lockTimeout === undefined ? undefined : Number(lockTimeout) * 1000 }, reporter));
    return this.answer(res, cluster, request.name, job, query);
  }

  private async remove(res: http.ServerResponse, cluster: string, name: string, query: URLSearchParams): Promise<void> {
    this.notRunning(cluster, name);
    const keepWorkers = ['1', 'true'].includes(query.get('keep_workers') ?? '');
    const job = this.start(cluster, name, 'remove', (reporter) => removeServer({ defsDir: this.o.defsDir, cluster, name, keepWorkers }, reporter));
    return this.answer(res, cluster, name, job, query);
  }

  private notRunning(cluster: string, name: string): void {
    const job = this.jobs.get(`${cluster}/${name}`);
    if (job?.state === 'running') throw new HttpError(409, `${job.kind === 'add' ? 'an add' : 'a remove'} of ${name} is running (since ${job.started})`);
  }

  private start(cluster: string, name: string, kind: Job['kind'], run: (r: ElasticReporter) => Promise<unknown>): Job {
    const dir = path.join(this.o.dataDir, 'elastic', cluster);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${name}.log`);
    fs.writeFileSync(file, '', { mode: 0o600 });
    const log = new DeployLog(file);
    const reporter: ElasticReporter = {
      step: (line) => log.write(`==> ${line}`),
      playbook: () => new PlainReporter((s) => log.write(s.replace(ANSI, ''))),
    };
    const job: Job = { kind, state: 'running', started: utcNow(), log, done: Promise.resolve() };
    this.o.say(`server ${kind} ${cluster}/${name}: started`);
    job.done = run(reporter).then(
      (result) => {
        job.state = 'succeeded';
        job.result = result;
        log.write(kind === 'add' ? `ready: ${name}` : `removed: ${name}`);
      },
      (err: unknown) => {
        job.state = 'failed';
        job.error = messageOf(err);
        log.write(`failed: ${job.error}`);
      },
    ).finally(() => {
      job.finished = utcNow();
      log.end();
      this.o.say(`server ${kind} ${cluster}/${name}: ${job.state}`);
    });
    this.jobs.set(`${cluster}/${name}`, job);
    return job;
  }

  private async answer(res: http.ServerResponse, cluster: string, name: string, job: Job, query: URLSearchParams): Promise<void> {
    const urls = this.urls(cluster, name);
    if (!['1', 'true'].includes(query.get('wait') ?? '')) {
      sendJson(res, 202, this.view(cluster, name), { Location: urls.status });
      return;
    }
    await job.done;
    sendJson(res, job.state === 'succeeded' ? 200 : 502, this.view(cluster, name), { Location: urls.status });
  }

  private sendLog(res: http.ServerResponse, cluster: string, name: string): void {
    const job = this.jobs.get(`${cluster}/${name}`);
    const file = path.join(this.o.dataDir, 'elastic', cluster, `${name}.log`);
    if (!job && !fs.existsSync(file)) throw new HttpError(404, `no add or remove of ${name} was logged`);
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    if (job && !job.log.isEnded) return job.log.follow(res);
    streamFile(file, fs.statSync(file).size, res, () => res.end());
  }

  private urls(cluster: string, name: string) {
    const status = `/clusters/${cluster}/servers/${name}`;
    return { status, log: `${status}/log` };
  }

  private view(cluster: string, name: string) {
    const job = this.jobs.get(`${cluster}/${name}`);
    return {
      cluster,
      server: name,
      record: readRecord(this.o.defsDir, cluster, name) ?? null,
      job: job ? { kind: job.kind, state: job.state, started: job.started, finished: job.finished, error: job.error, result: job.result } : null,
      urls: this.urls(cluster, name),
    };
  }
}

/** The JSON body as a plan request; a wrong field is a 422 naming it. */
function toRequest(cluster: string, b: Record<string, unknown>): AddRequest {
  const unknown = Object.keys(b).filter((k) => !FIELDS.includes(k));
  if (unknown.length) throw new HttpError(422, `unknown field: ${unknown[0]!.slice(0, 40)} (fields: ${FIELDS.join(', ')})`);
  const str = (k: string, v: unknown, required = false): string | undefined => {
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || !v || v.length > 255) throw new HttpError(422, `${k} must be a non-empty string`);
    return v;
  };
  if (b.web !== undefined && typeof b.web !== 'boolean') throw new HttpError(422, 'web must be true or false');
  if (b.copy !== undefined && (!Array.isArray(b.copy) || b.copy.some((c) => !(COPYABLE as readonly unknown[]).includes(c)))) {
    throw new HttpError(422, `copy must be a list of: ${COPYABLE.join(', ')}`);
  }
  const ssh = b.ssh ?? {};
  if (!ssh || typeof ssh !== 'object' || Array.isArray(ssh)) throw new HttpError(422, 'ssh must be an object with user, port, key');
  const s = ssh as Record<string, unknown>;
  const extra = Object.keys(s).filter((k) => !['user', 'port', 'key'].includes(k));
  if (extra.length) throw new HttpError(422, `unknown field: ssh.${extra[0]!.slice(0, 40)} (fields: user, port, key)`);
  if (s.port !== undefined && (!Number.isInteger(s.port) || (s.port as number) < 1 || (s.port as number) > 65535)) throw new HttpError(422, 'ssh.port must be 1 to 65535');
  return {
    cluster,
    name: str('name', b.name, true)!,
    host: str('host', b.host, true)!,
    web: b.web === true,
    like: str('like', b.like),
    listen: str('listen', b.listen),
    copy: (b.copy ?? []) as Copyable[],
    ssh: { user: str('ssh.user', s.user), port: s.port as number | undefined, key: str('ssh.key', s.key) },
  };
}

async function checked(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof FlightError && err.kind === 'invalid') throw new HttpError(422, err.message);
    throw err;
  }
}
