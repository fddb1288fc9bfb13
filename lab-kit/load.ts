/**
 * Small HTTP load generators for the zero-downtime tests and the benchmarks. startLoad: a fixed
 * number of loops, each sending the next request as soon as the previous one ends, over keep-alive
 * connections (as browsers and load balancers do, so a request is not slowed by a TCP
 * handshake), to the fixture page on the lab's nginx. Every response is kept as a sample (times,
 * status, the two revision reads), so a test can check each one and split latencies by what
 * Flight was doing at the time. pacedLoad: a steady rate, sent on schedule whatever the answers
 * take (for latency under load).
 *
 * Only loopback addresses are accepted.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch with sub-millisecond resolution: compare with event times taken by the same clock. */
export const now = (): number => performance.timeOrigin + performance.now();

export interface LoadTarget {
  /** Name for reports, e.g. lab-1. */
  name: string;
  /** nginx's address (127.x.y.z). */
  address: string;
  /** Host header: the app's domain. */
  host: string;
  port?: number;
}

export interface LoadOptions {
  targets: LoadTarget[];
  /** Loops per target, each with at most one request in flight. Default 4. */
  loopsPerTarget?: number;
  /** Every Nth request of a loop asks for ?delay_ms=delayMs, holding it open across a switch. Default 4 (0: never). */
  delayEvery?: number;
  /** Default 20. */
  delayMs?: number;
  /** Stop by itself after this long, whatever happens (a safety bound). Default 10 min. */
  maxMs?: number;
  /** Stop by itself after this many requests in all. Default: no bound. */
  maxRequests?: number;
  /**
   * Per-request timeout; a timeout is an error. Default 60 s: longer than nginx's own limit for a
   * PHP answer (the cluster's request_duration), so a slow answer is measured as slow, and a
   * request nginx gives up on comes back as its 504.
   */
  timeoutMs?: number;
}

export interface LoadSample {
  target: string;
  /** now() when the request was sent and when its response ended (or failed). */
  start: number;
  end: number;
  /** HTTP status; 0 when there was no response. */
  status: number;
  delayed: boolean;
  /** The page's `sha:` and `marker:` lines, when present. */
  sha?: string;
  marker?: string;
  /** Why the request failed, when it did (network error, timeout). */
  error?: string;
  /** The first attempt met a keep-alive connection the server had just closed, and was sent again. */
  retried?: boolean;
}

export interface Load {
  /** Samples so far (grows while running). */
  samples: LoadSample[];
  /** Stop sending; resolves when every loop has finished its last request. */
  stop(): Promise<LoadSample[]>;
  /** Resolves when the loops end, by stop() or by a bound. */
  done: Promise<LoadSample[]>;
}

interface Attempt {
  status: number;
  body: string;
  error?: string;
  /** Failed before any response byte on a connection that had served earlier requests. */
  staleSocket: boolean;
}

function attempt(agent: http.Agent, t: LoadTarget, urlPath: string, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (a: Attempt) => {
      if (!settled) {
        settled = true;
        resolve(a);
      }
    };
    const req = http.request({ host: t.address, port: t.port ?? 80, path: urlPath, method: 'GET', headers: { Host: t.host }, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => finish({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), staleSocket: false }));
      res.on('error', (e) => finish({ status: res.statusCode ?? 0, body: '', error: e.message, staleSocket: false }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      // A server may close an idle keep-alive connection just as the client reuses it (nginx does
      // on reload); HTTP clients resend an idempotent request then (node's docs show this with
      // reusedSocket). Only that case is retried: a reset on a fresh connection is an error.
      const stale = req.reusedSocket && (e.code === 'ECONNRESET' || e.message === 'socket hang up');
      finish({ status: 0, body: '', error: `${e.code ?? ''} ${e.message}`.trim(), staleSocket: stale });
    });
    req.end();
  });
}

function field(body: string, key: string): string | undefined {
  const m = new RegExp(`^${key}: (.*)$`, 'm').exec(body);
  return m ? m[1]!.trim() : undefined;
}

export function startLoad(opts: LoadOptions): Load {
  for (const t of opts.targets) {
    if (!t.address.startsWith('127.')) throw new Error(`refusing to send load to ${t.address}: tests stay on 127.0.0.0/8`);
  }
  const loops = opts.loopsPerTarget ?? 4;
  const delayEvery = opts.delayEvery ?? 4;
  const delayMs = opts.delayMs ?? 20;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const samples: LoadSample[] = [];
  let stopping = false;
  const bound = setTimeout(() => (stopping = true), opts.maxMs ?? 10 * 60_000);
  const agents = opts.targets.map(() => new http.Agent({ keepAlive: true, maxSockets: loops }));

  const loop = async (ti: number, li: number) => {
    const t = opts.targets[ti]!;
    for (let n = li; !stopping; n++) {
      if (opts.maxRequests !== undefined && samples.length >= opts.maxRequests) break;
      const delayed = delayEvery > 0 && n % delayEvery === 0;
      const urlPath = delayed ? `/?delay_ms=${delayMs}` : '/';
      const start = now();
      let a = await attempt(agents[ti]!, t, urlPath, timeoutMs);
      let retried = false;
      if (a.staleSocket) {
        retried = true;
        a = await attempt(agents[ti]!, t, urlPath, timeoutMs);
      }
      samples.push({
        target: t.name,
        start,
        end: now(),
        status: a.status,
        delayed,
        sha: field(a.body, 'sha'),
        marker: field(a.body, 'marker'),
        ...(a.error ? { error: a.error } : {}),
        ...(retried ? { retried } : {}),
      });
    }
  };

  const done = Promise.all(opts.targets.flatMap((_, ti) => Array.from({ length: loops }, (_, li) => loop(ti, li)))).then(() => {
    clearTimeout(bound);
    for (const a of agents) a.destroy();
    return samples;
  });
  return {
    samples,
    done,
    stop() {
      stopping = true;
      return done;
    },
  };
}

/**
 * An open-loop load: `rate` requests per second in all, to the targets in turn, on keep-alive
 * connections, each sent on schedule even while earlier ones are still waiting (as visitors
 * do), so a slow moment shows as latency and as more requests in flight, not as fewer requests.
 * Stops by itself after `maxMs`.
 */
export function pacedLoad(targets: LoadTarget[], rate: number, maxMs: number): { samples: LoadSample[]; stop(): Promise<LoadSample[]> } {
  for (const t of targets) if (!t.address.startsWith('127.')) throw new Error(`refusing to send load to ${t.address}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const samples: LoadSample[] = [];
  const pending = new Set<Promise<void>>();
  const one = (t: LoadTarget): Promise<void> =>
    new Promise((resolve) => {
      const start = now();
      const done = (status: number, body: string, error?: string) => {
        samples.push({ target: t.name, start, end: now(), status, delayed: false, sha: field(body, 'sha'), marker: field(body, 'marker'), ...(error ? { error } : {}) });
        resolve();
      };
      const req = http.request({ host: t.address, port: t.port ?? 80, path: '/', headers: { Host: t.host }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => done(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')));
        res.on('error', (e) => done(res.statusCode ?? 0, '', e.message));
      });
      req.setTimeout(30_000, () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', (e) => done(0, '', e.message));
      req.end();
    });
  const t0 = now();
  let sent = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    if (now() - t0 > maxMs) return void (stopped = true);
    // Catch up on schedule after a timer ran late, so the rate holds.
    while (sent < ((now() - t0) * rate) / 1000) {
      const p = one(targets[sent % targets.length]!);
      sent++;
      pending.add(p);
      void p.then(() => pending.delete(p));
    }
    setTimeout(tick, Math.max(1, 1000 / rate / 2));
  };
  tick();
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all([...pending]);
      agent.destroy();
      return samples;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// What the samples say

/** A sample failed: no response, a status other than 200, or a page without both revision lines. */
export const isError = (s: LoadSample): boolean => s.status !== 200 || s.error !== undefined || !s.sha || !s.marker;
/** The request ran code from two releases: the two revision reads differ. */
export const isMixed = (s: LoadSample): boolean => !!s.sha && !!s.marker && s.sha !== s.marker;

/** Nearest-rank percentile of already sorted values; NaN for none. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencyStats {
  requests: number;
  errors: number;
  mixed: number;
  p50: number;
  p99: number;
  max: number;
}

export function stats(samples: LoadSample[]): LatencyStats {
  const ms = samples.map((s) => s.end - s.start).sort((a, b) => a - b);
  return {
    requests: samples.length,
    errors: samples.filter(isError).length,
    mixed: samples.filter(isMixed).length,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms.length ? ms[ms.length - 1]! : NaN,
  };
}

/** Whether a sample's [start, end] overlaps any of the windows ([from, to] in now() time). */
export function overlaps(s: LoadSample, windows: Array<[number, number]>): boolean {
  return windows.some(([from, to]) => s.start <= to && s.end >= from);
}

export interface LoadReport {
  all: LatencyStats;
  during: LatencyStats;
  outside: LatencyStats;
  perTarget: Record<string, LatencyStats>;
  retried: number;
  seconds: number;
  /** Distinct revisions each target served (sha lines). */
  revisions: Record<string, string[]>;
}

/** Split the samples by whether they overlap a window (e.g. while `current` was being switched). */
export function report(samples: LoadSample[], windows: Array<[number, number]>): LoadReport {
  const during = samples.filter((s) => overlaps(s, windows));
  const outside = samples.filter((s) => !overlaps(s, windows));
  const targets = [...new Set(samples.map((s) => s.target))];
  const first = samples.reduce((m, s) => Math.min(m, s.start), Infinity);
  const last = samples.reduce((m, s) => Math.max(m, s.end), -Infinity);
  return {
    all: stats(samples),
    during: stats(during),
    outside: stats(outside),
    perTarget: Object.fromEntries(targets.map((t) => [t, stats(samples.filter((s) => s.target === t))])),
    retried: samples.filter((s) => s.retried).length,
    seconds: samples.length ? (last - first) / 1000 : 0,
    revisions: Object.fromEntries(targets.map((t) => [t, [...new Set(samples.filter((s) => s.target === t && s.sha).map((s) => s.sha!))]])),
  };
}

/** The report as a small text table for the test's output; `during` names what the windows were. */
export function formatReport(r: LoadReport, during = 'during switches'): string {
  const f = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
  const w = Math.max(16, during.length);
  const row = (name: string, s: LatencyStats) =>
    `${name.padEnd(w)} ${String(s.requests).padStart(8)} ${String(s.errors).padStart(7)} ${String(s.mixed).padStart(6)} ${f(s.p50).padStart(8)} ${f(s.p99).padStart(8)} ${f(s.max).padStart(8)}`;
  return [
    `${'requests'.padEnd(w)} ${'count'.padStart(8)} ${'errors'.padStart(7)} ${'mixed'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`,
    row('all', r.all),
    row(during, r.during),
    row('outside', r.outside),
    ...Object.entries(r.perTarget).map(([t, s]) => row(`  ${t}`, s)),
    `${r.seconds.toFixed(1)} s of load, ${(r.all.requests / Math.max(r.seconds, 0.001)).toFixed(0)} req/s; ${r.retried} resent after a keep-alive connection closed under them`,
  ].join('\n');
}
