/**
 * Running a playbook in this process: the one entry every front end uses (the CLI, `flight
 * serve`, the elastic-cluster operations, the bench). It gives the runner the modules, a
 * connection pool (its own, closed at the end, unless the caller shares one), and the events to
 * the reporter; it keeps what front ends ask of a run afterwards: each server's first failure and
 * the run's last error message.
 */
import { ConnectionPool } from '../connection/index.js';
import type { Inventory } from '../inventory/types.js';
import { modules } from '../../modules/index.js';
import type { Playbook } from '../playbook/types.js';
import type { Reporter } from '../reporters/types.js';
import type { RunEvent } from '../runner/events.js';
import type { ConnectionSource } from '../runner/connect.js';
import { runPlaybook, type RunOptions, type RunSummary } from '../runner/runner.js';
import type { Vars } from '../templating.js';
import { catalog, loadPlaybook } from './playbooks.js';

export interface PlaybookRunOptions extends Partial<Pick<RunOptions, 'limit' | 'tags' | 'skipTags' | 'startAtTask'>> {
  /** A built-in playbook's name, a path, or one already loaded. */
  playbook: string | Playbook;
  inventory: Inventory;
  vars?: Vars;
  check?: boolean;
  diff?: boolean;
  forks: number;
  verbosity?: number;
  /** Told every event, then `done()` at the end. */
  reporter?: Reporter;
  /** Told every event too (before the reporter). */
  onEvent?: (e: RunEvent) => void;
  /** A pool (or a wrapper of one) shared with other runs; the caller closes it. */
  connections?: ConnectionSource;
}

export interface PlaybookOutcome {
  summary: RunSummary;
  /** Per host, its first failure: `task: message`. */
  firstFailure: Map<string, string>;
  /** The last failure message of the run, if any. */
  lastError?: string;
  ok: boolean;
}

export async function runPlaybookIn(o: PlaybookRunOptions): Promise<PlaybookOutcome> {
  const pb = typeof o.playbook === 'string' ? loadPlaybook(o.playbook) : o.playbook;
  const own = o.connections ? undefined : new ConnectionPool();
  const firstFailure = new Map<string, string>();
  let lastError: string | undefined;
  try {
    const summary = await runPlaybook(pb, {
      inventory: o.inventory, modules, catalog, connections: o.connections ?? own!, extraVars: o.vars ?? {},
      check: o.check ?? false, diff: o.diff ?? false, forks: o.forks, limit: o.limit, tags: o.tags, skipTags: o.skipTags,
      startAtTask: o.startAtTask, verbosity: o.verbosity ?? 0,
      emit: (e) => {
        if (e.event === 'host_result' && (e.status === 'failed' || e.status === 'unreachable') && !e.ignored) {
          if (!firstFailure.has(e.host)) firstFailure.set(e.host, `${e.task}: ${e.msg ?? e.status}`);
          lastError = e.msg ?? `${e.task}: ${e.status}`;
        }
        o.onEvent?.(e);
        o.reporter?.handle(e);
      },
    });
    await o.reporter?.done();
    return { summary, firstFailure, lastError, ok: summary.failed.length === 0 && summary.unreachable.length === 0 };
  } finally {
    await own?.closeAll();
  }
}
