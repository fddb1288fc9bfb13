/** What the runner tells reporters. Reporters only consume these; they never drive the run. */
import type { FileDiff } from '../module-kit/contract.js';

export type HostStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface HostStats {
  ok: number;
  changed: number;
  failed: number;
  skipped: number;
  unreachable: number;
  rescued: number;
  ignored: number;
}

export type RunEvent =
  | { event: 'playbook_start'; playbook: string; check: boolean }
  /** `tasks`: the play's tasks as written (a block's counted one by one; an include as one): a progress bar's end. */
  | { event: 'play_start'; play: string; hosts: string[]; tasks: number }
  | { event: 'task_start'; play: string; task: string; hosts: string[]; handler: boolean; pos: string }
  | {
      event: 'host_result';
      task: string;
      host: string;
      status: HostStatus;
      msg?: string;
      diff?: FileDiff[];
      ignored?: boolean;
      item?: unknown;
      ms: number;
      handler: boolean;
      /** A failed command: the argv that ran, and the last lines it printed (stderr, else stdout). */
      cmd?: readonly string[];
      output?: string;
    }
  | { event: 'task_end'; task: string; ms: number }
  | { event: 'play_end'; play: string }
  | { event: 'log'; host: string; line: string }
  | { event: 'warning'; msg: string }
  | { event: 'recap'; hosts: Record<string, HostStats>; ms: number; connections: number };

export type Emit = (e: RunEvent) => void;

export const emptyStats = (): HostStats => ({ ok: 0, changed: 0, failed: 0, skipped: 0, unreachable: 0, rescued: 0, ignored: 0 });
