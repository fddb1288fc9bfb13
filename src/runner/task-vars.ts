/**
 * The variables a task sees on a host, and what they decide before it runs: its `when` and its
 * displayed name. Precedence, lowest first: host vars, the run's own (run id, deployer, facts,
 * check_mode, a rescue's failed_*), play/block/task vars, registered results and set facts,
 * extra vars.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Inventory } from '../inventory/types.js';
import type { Task } from '../playbook/types.js';
import { evaluate, renderString, renderValue, type Vars } from '../templating.js';
import type { HostState } from './host-state.js';
import { liveHostvars } from './hostvars.js';
import type { Scope } from './scope.js';
import { truthy, where } from './task-outcome.js';

export class TaskVars {
  private readonly groups: Record<string, string[]>;
  /** Names this run in locks and release logs; `deployer` says who ran it. */
  private readonly runVars = {
    flight_run_id: randomBytes(8).toString('hex'),
    deployer: `${os.userInfo().username}@${os.hostname()}`,
  };
  /** Every host's variables and, as in Ansible, what it registered in the plays so far. */
  private readonly hostvars: Record<string, unknown>;

  constructor(inventory: Inventory, private readonly extraVars: Vars, private readonly check: boolean, registered: (host: string) => Record<string, unknown> | undefined) {
    this.groups = Object.fromEntries(inventory.groups);
    this.hostvars = liveHostvars(inventory.hosts, registered);
  }

  /**
   * Play and task vars are rendered here, per host and in order, so
   * `application: "{{ apps[app] }}"` becomes that host's object.
   */
  of(h: HostState, scope: Scope): Vars {
    const vars: Vars = {
      ...h.host.vars,
      inventory_hostname: h.host.name,
      groups: this.groups,
      hostvars: this.hostvars,
      ...this.runVars,
      facts: h.facts ?? {},
      check_mode: this.check,
      ...(h.failure ? { failed_host: h.failure.host, failed_task: h.failure.task, failed_msg: h.failure.msg } : {}),
      ...h.registered,
      ...this.extraVars,
    };
    // As in Ansible, a var may refer to a result registered later (release_dir ->
    // build.release_id): one that cannot be rendered yet is left out, and a task that reads
    // it gets the usual undefined-variable error naming it.
    for (const [k, v] of Object.entries(scope.vars)) {
      if (k in this.extraVars || k in h.registered) continue;
      try {
        vars[k] = renderValue(v, vars, `vars.${k}`);
      } catch {
        delete vars[k];
      }
    }
    return vars;
  }

  /** The task's `when`, and its enclosing blocks' (a block's own `when` is in the scope already). */
  conditionsHold(task: Task, h: HostState, scope: Scope, vars = this.of(h, scope)): boolean {
    const conditions = task.block || task.includeTasks ? scope.when : [...scope.when, ...task.when];
    return conditions.every((cond) => truthy(evaluate(cond, vars, `${where(task)}: when '${cond}'`)));
  }

  /** Task names may use variables ("Record the release ({{ outcome }})"); shown rendered when they can be. */
  displayName(task: Task, h: HostState, scope: Scope): string {
    try {
      return renderString(task.name, this.of(h, scope), task.name);
    } catch {
      return task.name;
    }
  }
}
