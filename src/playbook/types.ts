/**
 * The parsed, checked playbook. Expressions stay unrendered here: they are rendered per host,
 * at run time, against that host's variables.
 */

export interface Position {
  file: string;
  line: number;
  col: number;
}

export interface Task {
  /** Display name: the `name:` or `<module> <first arg>`. */
  name: string;
  pos: Position;
  /** The module to run; absent for blocks, include_tasks and meta. */
  module?: string;
  args: Record<string, unknown>;
  when: string[];
  loop?: unknown;
  loopVar: string;
  register?: string;
  notify: string[];
  tags: string[];
  ignoreErrors: boolean;
  changedWhen?: string | boolean;
  failedWhen?: string | boolean;
  runOnce: boolean;
  delegateTo?: string;
  become?: boolean;
  becomeUser?: string;
  /** `check_mode: false` runs the task for real even under --check (read-only commands); `true` always checks. */
  checkMode?: boolean;
  vars: Record<string, unknown>;
  block?: Task[];
  rescue?: Task[];
  always?: Task[];
  includeTasks?: string;
  meta?: 'flush_handlers' | 'end_play' | 'end_host';
  /** Handlers only: extra topics this handler answers to. */
  listen: string[];
}

export interface Play {
  name: string;
  pos: Position;
  hosts: string;
  vars: Record<string, unknown>;
  varsFiles: string[];
  serial?: number | string;
  anyErrorsFatal: boolean;
  maxFailPercentage?: number;
  gatherFacts: boolean;
  become?: boolean;
  becomeUser?: string;
  tasks: Task[];
  handlers: Task[];
  tags: string[];
}

export interface Playbook {
  path: string;
  dir: string;
  plays: Play[];
}
