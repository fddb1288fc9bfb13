/**
 * One deploy per app at a time; different apps independently. While one runs, at most one
 * request waits: a newer request replaces the waiting one (which is then recorded as
 * superseded), because deploying a commit that is already outdated before it starts only
 * delays the one that matters. Pure bookkeeping: the caller starts and records.
 */
export interface Queued {
  id: string;
}

export interface EnqueueResult<T> {
  /** Start this now (nothing was running for the app). */
  start?: T;
  /** This waiting request was replaced by the new one. */
  superseded?: T;
}

export class DeployQueue<T extends Queued> {
  private running = new Map<string, T>();
  private waiting = new Map<string, T>();

  enqueue(app: string, d: T): EnqueueResult<T> {
    if (!this.running.has(app)) {
      this.running.set(app, d);
      return { start: d };
    }
    const superseded = this.waiting.get(app);
    this.waiting.set(app, d);
    return superseded ? { superseded } : {};
  }

  /** The app's running deploy ended: the waiting one (if any) is what to start next. */
  finish(app: string, id: string): T | undefined {
    if (this.running.get(app)?.id !== id) return undefined;
    this.running.delete(app);
    const next = this.waiting.get(app);
    if (!next) return undefined;
    this.waiting.delete(app);
    this.running.set(app, next);
    return next;
  }

  /** Take every waiting deploy out (shutdown: they are cancelled, not started). */
  takeWaiting(): T[] {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    return all;
  }

  runningOf(app: string): T | undefined {
    return this.running.get(app);
  }

  waitingOf(app: string): T | undefined {
    return this.waiting.get(app);
  }

  get runningCount(): number {
    return this.running.size;
  }

  get waitingCount(): number {
    return this.waiting.size;
  }
}
