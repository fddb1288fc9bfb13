import type { RunEvent } from '../runner/events.js';

/** Consumes run events. Three implementations: listr2 (terminal), plain (CI, pipes), JSON lines. */
export interface Reporter {
  handle(e: RunEvent): void;
  /** Flush whatever is still rendering. */
  done(): Promise<void>;
}
