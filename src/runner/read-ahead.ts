/**
 * Reading ahead: the file-state reads of a run of consecutive file tasks on one host, made in one
 * remote call instead of one per task (pyinfra gathers its facts up front the same way).
 *
 * Every remote call costs a subshell on the host, and every `stat` a process; with dozens of
 * servers sharing a machine's cores, process starts are most of a no-change run. A module that
 * declares `reads` (file, template, copy, symlink, cron) lets the runner ask, at the first of
 * such tasks, for the paths of every file task that follows (as far as the next task that is
 * not one, or that runs as another user), all in one `stat`. Later tasks find their answer here.
 *
 * Why it is never stale: a read made earlier is still true as long as nothing ran on the host
 * since, except tasks that declared their reads and reported no change. Anything else (a
 * command, a change, a failure, a module without declared reads) forgets every read of the
 * host (Runner.runOnHost). A request is answered only by a read of exactly the same question
 * (statKey) made as the same user.
 *
 * A change does not cost the next task a read of its own: each remote command a task with
 * declared reads runs after its own read (its apply) carries the reads of the tasks that follow,
 * made on the host right after the command succeeded (withReadsAfter). The last such read of a
 * task is staged, and becomes the host's reads once the task has finished with a change and
 * without failing (settle); a put after it (a file written without a command) drops it.
 */
import { statKey, type PathState, type StatRequest } from '../module-kit/facts/file.js';
import type { Module } from '../module-kit/contract.js';
import type { Task } from '../playbook/types.js';
import { renderValue, type Vars } from '../templating.js';
import { checkArgs } from './args.js';
import { becomeOf, innerScope, type Scope } from './scope.js';
import { where } from './task-outcome.js';

export class ReadAhead {
  private states = new Map<string, PathState>();
  /** Reads made after the running task's last command; true once it finishes (settle). */
  private staged?: Map<string, PathState>;

  private static key(r: StatRequest, user: string): string {
    return `${user}\n${statKey(r)}`;
  }

  /** The answers to all of `reqs` read earlier as `user`, or undefined if any is missing. */
  take(reqs: readonly StatRequest[], user: string): PathState[] | undefined {
    const out: PathState[] = [];
    for (const r of reqs) {
      const s = this.states.get(ReadAhead.key(r, user));
      if (!s) return undefined;
      out.push(s);
    }
    return out;
  }

  keep(reqs: readonly StatRequest[], states: readonly PathState[], user: string): void {
    reqs.forEach((r, i) => this.states.set(ReadAhead.key(r, user), states[i]!));
  }

  /** Something may have changed on the host: no earlier read answers anything any more. */
  forget(): void {
    this.states.clear();
    this.staged = undefined;
  }

  /** Reads made right after one of the running task's commands: they replace any staged before. */
  stage(reqs: readonly StatRequest[], states: readonly PathState[], user: string): void {
    this.staged = new Map(reqs.map((r, i) => [ReadAhead.key(r, user), states[i]!]));
  }

  /** The running task changed the host after its last staged read (a put): drop it. */
  unstage(): void {
    this.staged = undefined;
  }

  /**
   * The task has finished with a change (and no failure): what it staged after its last command
   * is what is known of the host now; nothing else is.
   */
  settle(): void {
    this.states = this.staged ?? new Map();
    this.staged = undefined;
  }
}

/** The tasks after the one running, in the same list, and the scope they run in (none for a handler). */
export interface Following {
  tasks: Task[];
  scope: Scope;
}

/** Paths read ahead at most, in one call. */
const READ_AHEAD_MAX = 32;

/**
 * The file-state reads of the tasks that follow on a host, as far as the next one that is not a
 * plain task of a module with declared reads run as the same user (`become`), or whose arguments
 * cannot be known yet. A task skipped later by its `when` or its tags only costs its paths a
 * place in the one `stat`.
 */
export function followingReads(next: Following, o: { modules: Record<string, Module<any>>; become: string | undefined; diff: boolean; varsOf: (scope: Scope) => Vars }): StatRequest[] {
  const reqs: StatRequest[] = [];
  for (const t of next.tasks) {
    const module = t.module ? o.modules[t.module] : undefined;
    if (!module?.reads || t.loop !== undefined || t.delegateTo || t.runOnce || reqs.length >= READ_AHEAD_MAX) break;
    const scope = innerScope(t, next.scope);
    if (becomeOf(scope) !== o.become) break;
    try {
      const args = renderValue(t.args, o.varsOf(scope), `${where(t)}: ${t.module}`) as Record<string, unknown>;
      const more = checkArgs(module, args) ? undefined : module.reads(args, { diff: o.diff });
      if (!more) break;
      reqs.push(...more);
    } catch {
      break;
    }
  }
  return reqs;
}
