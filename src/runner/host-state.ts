import type { Connection } from '../connection/types.js';
import type { Facts } from '../module-kit/facts/host.js';
import type { Host } from '../inventory/types.js';
import { FlightError, messageOf } from '../errors.js';
import type { Task } from '../playbook/types.js';
import { emptyStats, type HostStats, type HostStatus } from './events.js';
import type { TaskOutcome } from './task-outcome.js';
import { ReadAhead } from './read-ahead.js';

/** Everything the runner remembers about one host during a run. */
export interface HostState {
  host: Host;
  /** The connection and the host's facts, opening or open (see Runner.connect). */
  ready?: Promise<{ conn: Connection; facts: Facts }>;
  /** Set once `ready` has its facts: template variables read them without waiting. */
  facts?: Facts;
  /** File-state reads made ahead for the tasks that follow (read-ahead.ts). */
  reads: ReadAhead;
  /** Results saved with `register:`, visible to later tasks on this host. */
  registered: Record<string, unknown>;
  /** Handler names and `listen` topics notified by changed tasks, not yet run. */
  notified: Set<string>;
  /** Failed in the current play (cleared at the next play, like Ansible's per-play host list). */
  failed: boolean;
  /** Why this host failed: its own task, or (any_errors_fatal) another host's. Rescue tasks see it as failed_host/failed_task/failed_msg. */
  failure?: { host: string; task: string; msg: string };
  unreachable: boolean;
  /** Left the play without failing (meta: end_host). */
  ended: boolean;
  stats: HostStats;
}

export function newHostState(host: Host): HostState {
  return { host, reads: new ReadAhead(), registered: {}, notified: new Set(), failed: false, unreachable: false, ended: false, stats: emptyStats() };
}

export const isActive = (h: HostState): boolean => !h.failed && !h.unreachable && !h.ended;

/** What the reporters are told of a task on a host once it is recorded. */
export interface Recorded {
  status: HostStatus;
  msg?: string;
  ignored?: boolean;
}

/**
 * Count a task's outcome on the host: a failure stops the host unless the task ignores errors,
 * a change notifies the task's handlers. `label` is the task's name as shown.
 */
export function recordOutcome(h: HostState, task: Task, label: string, o: TaskOutcome): Recorded {
  if (o.failed) return recordFailure(h, task, label, o.msg ?? '');
  if (o.changed) {
    h.stats.changed++;
    for (const n of task.notify) h.notified.add(n);
    return { status: 'changed', msg: o.msg };
  }
  if (o.allSkipped) h.stats.skipped++;
  else h.stats.ok++;
  return { status: o.allSkipped ? 'skipped' : 'ok', msg: o.msg };
}

/** A task that threw on the host: unreachable (the host sits out the run) or failed. */
export function recordError(h: HostState, task: Task, err: unknown): Recorded {
  if (err instanceof FlightError && err.kind === 'unreachable') {
    h.unreachable = true;
    h.failure = { host: h.host.name, task: task.name, msg: err.message };
    h.stats.unreachable++;
    return { status: 'unreachable', msg: err.message };
  }
  return recordFailure(h, task, task.name, messageOf(err));
}

function recordFailure(h: HostState, task: Task, label: string, msg: string): Recorded {
  if (task.ignoreErrors) {
    h.stats.ignored++;
    return { status: 'failed', msg, ignored: true };
  }
  h.stats.failed++;
  h.failed = true;
  h.failure = { host: h.host.name, task: label, msg };
  return { status: 'failed', msg };
}
