/**
 * The deploys: queueing per app, running, recording, and telling whoever waits. HTTP knows
 * nothing of this beyond request(), whenDone() and the log to follow.
 */
import { randomBytes } from 'node:crypto';
import type { AutoRollback } from '../definitions/index.js';
import { messageOf } from '../errors.js';
import { newDeployId } from './ids.js';
import { DeployLog } from './log.js';
import { DeployQueue } from './queue.js';
import type { DeployRunner } from './run.js';
import { decideSignal, type Signal, type SignalDecision } from './signals.js';
import type { HistoryStore } from './store.js';
import { FINAL_STATES, type DeployRecord } from './types.js';

export interface ServiceOptions {
  store: HistoryStore;
  defsDir: string;
  runner: DeployRunner;
  /** One line for the server's own log (never a token: nothing here ever sees one). */
  say: (line: string) => void;
}

export class DeployService {
  private queue = new DeployQueue<DeployRecord>();
  private logs = new Map<string, DeployLog>();
  private waiters = new Map<string, Array<(r: DeployRecord) => void>>();
  private runs = new Set<Promise<void>>();

  constructor(private o: ServiceOptions) {}

  /** Record a new release request and queue it; returns its record (queued or already running). */
  request(app: string, sha: string, source: 'api' | 'github', force = false): DeployRecord {
    const rec: DeployRecord = { id: newDeployId(), app, kind: 'release', sha, state: 'queued', source, requested_at: new Date().toISOString(), ...(force ? { force: true as const } : {}) };
    return this.enqueue(rec, `deploy ${rec.id}: ${app} ${sha} (requested ${rec.requested_at} via ${source}${force ? ', forced' : ''})`);
  }

  /**
   * An error-rate signal from monitoring: decide (signals.ts) and, when the app's last release
   * must go, record why on it and queue its rollback, which starts at once (nothing of the app
   * is running or waiting, or the decision would have been to wait).
   */
  signal(app: string, policy: AutoRollback, signal: Signal): { decision: SignalDecision; rollback?: DeployRecord } {
    const decision = decideSignal({ policy, signal, last: this.o.store.lastRelease(app), busy: this.queue.runningOf(app) ?? this.queue.waitingOf(app), now: Date.now() });
    if (!decision.rollback) {
      this.o.say(`signal for ${app}: no rollback: ${decision.reason}`);
      return { decision };
    }
    const now = new Date().toISOString();
    const rec: DeployRecord = { id: newDeployId(), app, kind: 'rollback', sha: decision.of.sha, state: 'queued', source: 'signal', requested_at: now, rollback_of: decision.of.id, reason: decision.reason };
    decision.of.rollback = { id: rec.id, at: now, reason: decision.reason };
    this.o.store.save(decision.of);
    this.enqueue(rec, `rollback ${rec.id} of release ${decision.of.id}: ${app} ${decision.of.sha}: ${decision.reason}`);
    this.o.say(`signal for ${app}: rolling back release ${decision.of.id}: ${decision.reason}`);
    return { decision, rollback: rec };
  }

  private enqueue(rec: DeployRecord, firstLine: string): DeployRecord {
    const { app, sha } = rec;
    this.o.store.save(rec);
    const log = new DeployLog(this.o.store.logFile(app, rec.id));
    this.logs.set(rec.id, log);
    log.write(firstLine);
    const { start, superseded } = this.queue.enqueue(app, rec);
    if (superseded) {
      this.finish(superseded, { state: 'superseded', superseded_by: rec.id }, `superseded by deploy ${rec.id} (${sha}) before it started`);
      this.o.say(`deploy ${superseded.id} (${app} ${superseded.sha}) superseded by ${rec.id}`);
    }
    if (start) this.launch(start);
    else log.write(`waiting for deploy ${this.queue.runningOf(app)?.id} to end`);
    this.o.say(`${rec.kind} ${rec.id} (${app} ${sha}) ${start ? 'started' : 'queued'}`);
    return rec;
  }

  /** Resolves with the final record once the deploy has ended (at once if it has). */
  whenDone(app: string, id: string): Promise<DeployRecord> {
    const rec = this.o.store.get(app, id);
    if (!rec) return Promise.reject(new Error(`no deploy ${id}`));
    if (FINAL_STATES.has(rec.state)) return Promise.resolve(rec);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** The live log of a deploy that has not ended, or undefined (then its file is complete). */
  liveLog(id: string): DeployLog | undefined {
    return this.logs.get(id);
  }

  get runningCount(): number {
    return this.queue.runningCount;
  }

  get waitingCount(): number {
    return this.queue.waitingCount;
  }

  /** Shutdown, step 1: waiting deploys will not start. */
  cancelWaiting(reason: string): void {
    for (const rec of this.queue.takeWaiting()) this.finish(rec, { state: 'cancelled', error: reason }, `cancelled: ${reason}`);
  }

  /** Shutdown, step 2: wait for running deploys, at most `ms`; true when all ended. */
  async drain(ms: number): Promise<boolean> {
    if (this.runs.size === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const all = Promise.all([...this.runs]).then(() => true as const);
    const done = await Promise.race([all, timeout]);
    clearTimeout(timer);
    return done;
  }

  /** Shutdown, step 3 (drain timed out): record what still runs as interrupted before exiting. */
  interruptRunning(reason: string): void {
    for (const rec of [...this.active.values()]) this.finish(rec, { state: 'interrupted', error: reason }, `interrupted: ${reason}`);
  }

  /** Running deploys by id. */
  private active = new Map<string, DeployRecord>();

  private launch(rec: DeployRecord): void {
    // Computed before this deploy counts as started: it is about the previous one.
    const stale = this.o.store.staleRun(rec.app);
    rec.state = 'running';
    rec.started_at = new Date().toISOString();
    rec.run_id = stale?.run_id ?? randomBytes(8).toString('hex');
    if (stale) rec.took_over = stale.id;
    this.o.store.save(rec);
    this.active.set(rec.id, rec);
    const log = this.logs.get(rec.id)!;
    if (stale) log.write(`deploy ${stale.id} was interrupted: this deploy runs as its run ${stale.run_id}, so a deploy lock that run left is taken over (and only that one)`);
    log.write(`started ${rec.started_at}, run ${rec.run_id}`);
    const run = (async () => {
      let outcome;
      try {
        const who = rec.kind === 'release' ? `deploy ${rec.id}` : `rollback ${rec.id} of deploy ${rec.rollback_of}`;
        outcome = await this.o.runner({ defsDir: this.o.defsDir, app: rec.app, kind: rec.kind, sha: rec.sha, who, runId: rec.run_id!, write: (l) => log.write(l) });
      } catch (err) {
        outcome = { ok: false, error: messageOf(err), servers: {} };
      }
      if (rec.state !== 'running') return; // interrupted by a shutdown that gave up waiting
      rec.servers = outcome.servers;
      this.finish(rec, outcome.ok ? { state: 'succeeded' } : { state: 'failed', error: outcome.error ?? 'failed' }, outcome.ok ? 'succeeded' : `failed: ${outcome.error ?? ''}`);
      this.o.say(`${rec.kind} ${rec.id} (${rec.app} ${rec.sha}) ${rec.state}`);
    })();
    this.runs.add(run);
    void run.finally(() => {
      this.runs.delete(run);
      this.active.delete(rec.id);
      const next = this.queue.finish(rec.app, rec.id);
      if (next) this.launch(next);
    });
  }

  private finish(rec: DeployRecord, change: Partial<DeployRecord>, line: string): void {
    Object.assign(rec, change, { finished_at: new Date().toISOString() });
    try {
      this.o.store.save(rec);
    } catch (err) {
      this.o.say(`cannot record deploy ${rec.id}: ${messageOf(err)}`);
    }
    const log = this.logs.get(rec.id);
    if (log) {
      log.write(`${rec.state} at ${rec.finished_at}${line && line !== rec.state ? `: ${line}` : ''}`);
      log.end();
      this.logs.delete(rec.id);
    }
    const waiting = this.waiters.get(rec.id) ?? [];
    this.waiters.delete(rec.id);
    for (const w of waiting) w(rec);
  }
}
