/**
 * `flight serve`: the HTTP API in front of DeployService (tokens checked in gate.ts, webhooks in
 * webhooks.ts, the elastic routes in elastic-routes.ts). Every request is answered with short
 * JSON (or the log as text); errors name what was wrong and nothing else. Checks run cheapest
 * first, and nothing is started or recorded for a request that fails one:
 *   route -> app exists (404) -> declared size (413) -> token (429 while backed off, 401, 403)
 *   -> body size (413) -> JSON (400) -> fields (422) -> a commit rolled back before (409).
 * Nothing here logs a header, a body or a query string: the access log has the method, the
 * path, the status and the time.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { loadDefinitions, type Definitions } from '../definitions/index.js';
import { messageOf } from '../errors.js';
import { VERSION } from '../version.js';
import { AuthBackoff, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { clientAddress } from './client.js';
import { DeliveryLog } from './deliveries.js';
import { ConnectionLimits, DEFAULT_LIMITS, type Limits } from './limits.js';
import { HttpError, loggablePath, parseJsonObject, readBody, refuseDeclaredOversize, sendJson } from './http.js';
import { isDeployId, requestSha } from './ids.js';
import { streamFile } from './log.js';
import { runDeploy, type DeployRunner } from './run.js';
import { DeployService } from './service.js';
import { HistoryStore, rolledBackLine } from './store.js';
import { parseSignal } from './signals.js';
import { Gate } from './gate.js';
import { signalKey, TokenFile } from './tokens.js';
import { ADMIN, ElasticApi } from './elastic-routes.js';
import type { DeployRecord } from './types.js';
import { deployUrls, deployView, statusFor } from './views.js';
import { GithubWebhooks } from './webhooks.js';

export interface ServeOptions {
  defsDir: string;
  dataDir: string;
  host: string;
  port: number;
  tls?: { cert: string; key: string };
  /** How long SIGTERM waits for running deploys before exiting anyway. */
  drainTimeoutMs: number;
  /** Deploys kept per app in the history. */
  keep?: number;
  runner?: DeployRunner;
  say?: (line: string) => void;
  backoff?: BackoffOptions;
  limits?: Partial<Limits>;
  /** Where the releases keep their git mirrors (default ~/.cache/flight): pushes are checked against them. */
  cacheDir?: string;
}

/** A request's headers must arrive within this, the whole request within REQUEST_TIMEOUT_MS. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;

export class DeployServer {
  private server!: http.Server;
  private defs!: Definitions;
  private trusted = new Set<string>();
  /** Tokens and the backoff of wrong ones (gate.ts). */
  private gate: Gate;
  /** POST /github (webhooks.ts). */
  private webhooks: GithubWebhooks;
  private limits: ConnectionLimits;
  private store: HistoryStore;
  /** Adding and removing servers (docs/elastic.md), with the admin token. */
  private elastic: ElasticApi;
  readonly service: DeployService;
  private draining = false;
  private started = Date.now();
  private say: (line: string) => void;

  private constructor(private o: ServeOptions) {
    this.say = o.say ?? ((l) => process.stdout.write(`${l}\n`));
    fs.mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    this.limits = new ConnectionLimits({ ...DEFAULT_LIMITS, ...o.limits }, this.say);
    this.gate = new Gate({ tokens: TokenFile.in(o.dataDir), backoff: new AuthBackoff(o.backoff ?? DEFAULT_BACKOFF), defs: () => this.defs, say: this.say });
    this.store = new HistoryStore(o.dataDir, o.keep);
    this.service = new DeployService({ store: this.store, defsDir: o.defsDir, runner: o.runner ?? runDeploy, say: this.say });
    this.elastic = new ElasticApi({ defsDir: o.defsDir, dataDir: o.dataDir, say: this.say });
    this.webhooks = new GithubWebhooks({
      deliveries: DeliveryLog.in(o.dataDir), limits: this.limits, store: this.store, service: this.service, cacheDir: o.cacheDir,
      wrongCredential: (client, message) => this.gate.wrongCredential(client, message),
      view: deployView,
      draining: () => this.draining,
    });
  }

  static async start(o: ServeOptions): Promise<DeployServer> {
    const s = new DeployServer(o);
    await s.reload();
    for (const rec of s.store.load()) s.say(`deploy ${rec.id} (${rec.app} ${rec.sha}) was ${rec.state === 'interrupted' ? 'running' : 'waiting'} when the server stopped: marked ${rec.state}`);
    await s.listen();
    return s;
  }

  /** (Re)read the definitions: apps, flight.yml tokens and webhooks. SIGHUP calls this. */
  async reload(): Promise<void> {
    const defs = await loadDefinitions(this.o.defsDir);
    this.webhooks.configure(defs);
    this.defs = defs;
    this.trusted = new Set(defs.config.serve.trusted_proxies);
    this.limits.trusted = this.trusted;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `${this.o.tls ? 'https' : 'http'}://${host}:${a.port}`;
  }

  private listen(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    // Timeouts are checked every second (node's default, 30 s, let a slow client keep a
    // connection up to 30 s past them).
    const options = { connectionsCheckingInterval: 1000, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS };
    this.server = this.o.tls
      ? https.createServer({ ...options, cert: fs.readFileSync(this.o.tls.cert), key: fs.readFileSync(this.o.tls.key) }, handler)
      : http.createServer(options, handler);
    // Responses held by ?wait=1 are not limited: the request was complete before the wait began.
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 50;
    // A few clients cannot take every connection: each address gets its share (limits.ts).
    this.server.on('connection', (socket) => this.limits.admit(socket));
    // Requests node's parser rejects (bad request line, headers too large, header timeout):
    // answered and logged like any other refusal.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      const [status, reason] = err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request Header Fields Too Large'] : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request Timeout'] : [400, 'Bad Request'];
      this.say(`${new Date().toISOString()} ${(socket as Socket).remoteAddress ?? '?'} - - ${status} (${err.code ?? 'parse error'})`);
      if (!socket.writable) return socket.destroy();
      const body = JSON.stringify({ error: reason.toLowerCase() }) + '\n';
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.o.port, this.o.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Stop taking requests, cancel waiting deploys, let running ones finish (at most the drain
   * timeout), then close every connection. Returns whether every running deploy ended.
   */
  async stop(): Promise<boolean> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.service.cancelWaiting('the deploy server is stopping');
    // An add or remove of a server cut short would leave an app's deploy lock held: it gets the
    // same time as the deploys.
    const [deploysDrained, serversDrained] = await Promise.all([this.service.drain(this.o.drainTimeoutMs), this.elastic.drain(this.o.drainTimeoutMs)]);
    const drained = deploysDrained && serversDrained;
    if (!deploysDrained) this.service.interruptRunning(`the deploy server stopped after waiting ${Math.round(this.o.drainTimeoutMs / 1000)} s for this deploy`);
    // Held ?wait=1 answers were sent as their deploys ended; a few ms for the last writes.
    await new Promise((r) => setTimeout(r, 50));
    this.server.closeAllConnections();
    await closed;
    return drained;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const t0 = Date.now();
    const client = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trusted);
    res.on('finish', () => this.say(`${new Date().toISOString()} ${client} ${req.method} ${loggablePath(req.url)} ${res.statusCode} ${Date.now() - t0}ms`));
    this.route(req, res, client).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendJson(res, err.status, { error: err.message }, err.headers);
        // An oversized or broken body is not read to its end: the connection goes.
        if (err.headers.Connection === 'close') res.on('finish', () => req.socket.destroySoon());
      } else {
        this.say(`internal error on ${req.method} ${loggablePath(req.url)}: ${messageOf(err)}`);
        sendJson(res, 500, { error: 'internal error' });
      }
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse, client: string): Promise<void> {
    if (this.draining) throw new HttpError(503, 'the deploy server is stopping', { Connection: 'close' });
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : url.slice(q + 1));
    const parts = pathname.split('/').slice(1);
    const method = req.method ?? 'GET';
    const allow = (...methods: string[]) => {
      if (!methods.includes(method)) throw new HttpError(405, `method ${method.slice(0, 10)} not allowed here`, { Allow: methods.join(', ') });
    };

    if (pathname === '/healthz') {
      allow('GET', 'HEAD');
      const mem = process.memoryUsage();
      sendJson(res, 200, {
        ok: true, version: VERSION, running: this.service.runningCount, waiting: this.service.waitingCount,
        uptime_s: Math.round((Date.now() - this.started) / 1000), memory: { rss: mem.rss, heap_used: mem.heapUsed },
      });
      return;
    }
    if (parts[0] === 'github' && parts.length <= 2) {
      allow('POST');
      return this.webhooks.handle(req, res, client, parts[1]);
    }
    if (parts[0] === 'clusters') return this.elastic.handle(req, res, { parts, method, query, allow, authenticate: () => this.gate.authenticate(req, client, ADMIN) });
    if (parts[0] === 'apps' && parts[2] === 'signals' && parts.length === 3) {
      const app = this.gate.appOf(req, client, parts[1]!);
      allow('POST');
      return this.postSignal(req, res, client, app, query.get('wait'));
    }
    if (parts[0] !== 'apps' || parts[2] !== 'deploys' || parts.length > 5) throw new HttpError(404, 'not found');
    const app = this.gate.appOf(req, client, parts[1]!);
    if (parts.length === 3) {
      allow('GET', 'POST');
      if (method === 'POST') return this.postDeploy(req, res, client, app, query.get('wait'));
      this.gate.authenticate(req, client, app);
      sendJson(res, 200, { deploys: this.store.list(app, clampInt(query.get('limit'), 1, 200, 20)).map((r) => deployView(r)) });
      return;
    }
    allow('GET', 'HEAD');
    const id = parts[3]!;
    if (parts.length === 5 && parts[4] !== 'log') throw new HttpError(404, 'not found');
    this.gate.authenticate(req, client, app);
    const rec = isDeployId(id) ? this.store.get(app, id) : undefined;
    if (!rec) throw new HttpError(404, 'no such deploy');
    if (parts.length === 4) {
      sendJson(res, 200, deployView(rec));
      return;
    }
    this.sendLog(res, rec);
  }

  private async postDeploy(req: http.IncomingMessage, res: http.ServerResponse, client: string, app: string, wait: string | null): Promise<void> {
    // A declared oversized body is refused before the token is even looked at.
    refuseDeclaredOversize(req);
    this.gate.authenticate(req, client, app);
    const body = parseJsonObject(await readBody(req));
    const unknown = Object.keys(body).filter((k) => k !== 'sha' && k !== 'force');
    if (unknown.length) throw new HttpError(422, `unknown field: ${unknown[0]!.slice(0, 40)}`);
    const given = requestSha(body.sha);
    if ('error' in given) throw new HttpError(422, given.error);
    if (body.force !== undefined && typeof body.force !== 'boolean') throw new HttpError(422, 'force must be true or false');
    const sha = given.sha;
    const bad = this.store.rolledBack(app, sha);
    if (bad && body.force !== true) throw new HttpError(409, `${rolledBackLine(bad)}; send "force": true to deploy it anyway`);
    if (this.draining) throw new HttpError(503, 'the deploy server is stopping', { Connection: 'close' });
    const rec = this.service.request(app, sha, 'api', body.force === true);
    const urls = deployUrls(rec);
    if (wait !== '1' && wait !== 'true') {
      sendJson(res, 202, deployView(rec), { Location: urls.status });
      return;
    }
    const done = await this.service.whenDone(app, rec.id);
    sendJson(res, statusFor(done), deployView(done), { Location: urls.status });
  }

  private async postSignal(req: http.IncomingMessage, res: http.ServerResponse, client: string, app: string, wait: string | null): Promise<void> {
    refuseDeclaredOversize(req);
    this.gate.authenticate(req, client, app, signalKey(app));
    const policy = this.defs.apps.get(app)!.auto_rollback;
    if (!policy) throw new HttpError(409, `automatic rollback is not set up for ${app} (auto_rollback in apps/${app}.yml)`);
    const signal = parseSignal(parseJsonObject(await readBody(req)));
    if (this.draining) throw new HttpError(503, 'the deploy server is stopping', { Connection: 'close' });
    const { decision, rollback } = this.service.signal(app, policy, signal);
    if (!rollback) return sendJson(res, 200, { action: 'none', reason: decision.reason });
    const location = { Location: deployUrls(rollback).status };
    if (wait !== '1' && wait !== 'true') return sendJson(res, 202, { action: 'rollback', reason: decision.reason, rollback: deployView(rollback) }, location);
    const done = await this.service.whenDone(app, rollback.id);
    sendJson(res, statusFor(done), { action: 'rollback', reason: decision.reason, rollback: deployView(done) }, location);
  }

  private sendLog(res: http.ServerResponse, rec: DeployRecord): void {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', 'X-Deploy-State': rec.state });
    const live = this.service.liveLog(rec.id);
    if (live) return live.follow(res);
    const file = this.store.logFile(rec.app, rec.id);
    let size = 0;
    try {
      size = fs.statSync(file).size;
    } catch {
      // No log (pruned by hand): an empty body.
    }
    streamFile(file, size, res, () => res.end());
  }
}

function clampInt(v: string | null, min: number, max: number, dflt: number): number {
  const n = Number(v);
  return v === null || !Number.isInteger(n) ? dflt : Math.min(max, Math.max(min, n));
}
