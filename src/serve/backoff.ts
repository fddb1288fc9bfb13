/**
 * Repeated authentication failures from one client: after `free` failures, the client's wrong
 * credentials are answered 429 with Retry-After for a delay that doubles with each further
 * failure, up to `maxMs`. The server checks the credential first: a right one always passes,
 * so noise from others behind the same address (a proxy, GitHub's shared senders) never locks
 * out CI. Refusing, rather than holding the response, keeps a flood from tying up sockets and
 * memory. The table is bounded: the oldest entries go first, and entries quiet for `forgetMs`
 * are dropped.
 */
export interface BackoffOptions {
  /** Failures allowed before any delay. */
  free: number;
  baseMs: number;
  maxMs: number;
  forgetMs: number;
  maxEntries: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  last: number;
  blockedUntil: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { free: 5, baseMs: 1000, maxMs: 60_000, forgetMs: 15 * 60_000, maxEntries: 10_000 };

export class AuthBackoff {
  private entries = new Map<string, Entry>();
  private now: () => number;

  constructor(private o: BackoffOptions = DEFAULT_BACKOFF) {
    this.now = o.now ?? Date.now;
  }

  /** Milliseconds this client must still wait before a wrong credential is answered 401 again (0: now). */
  retryAfter(address: string): number {
    const e = this.entries.get(address);
    if (!e) return 0;
    const now = this.now();
    if (now - e.last > this.o.forgetMs) {
      this.entries.delete(address);
      return 0;
    }
    return Math.max(0, e.blockedUntil - now);
  }

  failure(address: string): void {
    const now = this.now();
    let e = this.entries.get(address);
    if (!e || now - e.last > this.o.forgetMs) e = { failures: 0, last: now, blockedUntil: 0 };
    e.failures++;
    e.last = now;
    // The `free`-th failure starts the first delay: the next attempt is the first refused.
    const over = e.failures - this.o.free;
    if (over >= 0) e.blockedUntil = now + Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(over, 30));
    // Re-insert so Map order is least-recently-failed first: eviction takes the oldest.
    this.entries.delete(address);
    this.entries.set(address, e);
    while (this.entries.size > this.o.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
