/**
 * What a task's results on one host amount to: the value `register:` saves, the status and
 * message the reporters show, with `changed_when`/`failed_when` applied. Pure: the runner
 * records the outcome in the host's state.
 */
import path from 'node:path';
import { FlightError } from '../errors.js';
import type { ModuleResult } from '../module-kit/contract.js';
import type { Task } from '../playbook/types.js';
import { evaluate, renderValue, type Vars } from '../templating.js';
import type { FileDiff } from '../module-kit/contract.js';
import type { HostStatus } from './events.js';

/** Where a task is declared, for every message about it. */
export function where(task: Task): string {
  return `task '${task.name}' (${path.relative(process.cwd(), task.pos.file) || task.pos.file}:${task.pos.line})`;
}

/** Truth as playbooks mean it: 'no', 'off', '0' and empty lists are false. */
export function truthy(v: unknown): boolean {
  if (typeof v === 'string') return !['', 'false', 'no', '0', 'off'].includes(v.trim().toLowerCase());
  if (Array.isArray(v)) return v.length > 0;
  return Boolean(v);
}

export function loopItems(task: Task, vars: Vars): unknown[] {
  const v = renderValue(task.loop, vars, `${where(task)}: loop`);
  if (!Array.isArray(v)) throw new FlightError('invalid', `${where(task)}: loop must be a list, got ${typeof v}`);
  return v;
}

export function statusOf(r: ModuleResult): HostStatus {
  return r.failed ? 'failed' : r.changed ? 'changed' : r.skipped ? 'skipped' : 'ok';
}

export interface TaskOutcome {
  /** What `register:` saves (and `result` in changed_when/failed_when). */
  registered: Record<string, unknown>;
  changed: boolean;
  failed: boolean;
  allSkipped: boolean;
  msg?: string;
  diff: FileDiff[];
}

/**
 * One result per loop item (a single one without a loop) folded into the task's outcome.
 * `vars` are the host's, for changed_when/failed_when.
 */
export function taskOutcome(task: Task, results: Array<ModuleResult & { item?: unknown }>, vars: Vars): TaskOutcome {
  const changed = results.some((r) => r.changed);
  const failedResult = results.find((r) => r.failed);
  const registered: Record<string, unknown> = task.loop === undefined
    ? { ...(results[0]!.data ?? {}), changed, failed: !!failedResult, msg: results[0]!.msg ?? '', skipped: !!results[0]!.skipped }
    : { changed, failed: !!failedResult, results: results.map((r) => ({ ...(r.data ?? {}), changed: r.changed, failed: !!r.failed, msg: r.msg ?? '', item: r.item })) };
  const judgeVars = { ...vars, result: registered, ...(task.register ? { [task.register]: registered } : {}) };
  const judge = (rule: string | boolean, label: string) =>
    typeof rule === 'boolean' ? rule : truthy(evaluate(rule, judgeVars, `${where(task)}: ${label} '${rule}'`));
  return {
    registered,
    changed: task.changedWhen === undefined ? changed : judge(task.changedWhen, 'changed_when'),
    failed: task.failedWhen === undefined ? !!failedResult : judge(task.failedWhen, 'failed_when'),
    allSkipped: results.every((r) => r.skipped),
    msg: failedResult?.msg ?? (results.length === 1 ? results[0]!.msg : `${results.length} items`),
    diff: results.flatMap((r) => r.diff ?? []),
  };
}
