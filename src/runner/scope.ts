/** What a task inherits from the blocks and includes around it, and what that makes of it. */
import type { Task } from '../playbook/types.js';
import type { Vars } from '../templating.js';

/** Inherited from enclosing blocks and includes. */
export interface Scope {
  vars: Vars;
  tags: string[];
  /** `when` of enclosing blocks and includes: every task inside must also pass them. */
  when: string[];
  become?: boolean;
  becomeUser?: string;
  baseDir: string;
  handler: boolean;
}

/** The scope a task runs in, inside its block's or play's. */
export function innerScope(task: Task, scope: Scope): Scope {
  return {
    ...scope,
    vars: { ...scope.vars, ...task.vars },
    tags: [...scope.tags, ...task.tags],
    // A block's or include's own `when` guards every task inside it.
    when: task.block || task.includeTasks ? [...scope.when, ...task.when] : scope.when,
    become: task.become ?? scope.become,
    becomeUser: task.becomeUser ?? scope.becomeUser,
  };
}

/** The user a task's commands run as: undefined for the login user. */
export function becomeOf(scope: Scope): string | undefined {
  return scope.becomeUser ?? (scope.become ? 'root' : undefined);
}

