import type { Connection } from '../connection/types.js';
import type { Facts } from '../module-kit/facts/host.js';
import type { Host } from '../inventory/types.js';
import { emptyStats, type HostStats } from './events.js';
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
