/**
 * The module contract, after Ansible's: a module declares its arguments as a JSON schema,
 * reads the current state on the host, compares it with the desired state, and changes the host
 * only when they differ and check mode is off. Modules know nothing of the runner, the
 * inventory or the reporters: everything they may touch comes through ModuleContext.
 */
import type { Command } from '../command.js';
import type { ExecOptions, ExecResult, PutOptions } from '../connection/types.js';
import type { PathState, StatRequest } from './facts/file.js';
import type { Facts } from './facts/host.js';

export interface FileDiff {
  path: string;
  before: string;
  after: string;
}

export interface ModuleResult {
  changed: boolean;
  failed?: boolean;
  /** One line for humans. Never contains secrets (file contents of env files, tokens). */
  msg?: string;
  diff?: FileDiff[];
  /** Registered with `register:`; e.g. stdout/rc for command. */
  data?: Record<string, unknown>;
  /** The module decided there was nothing to do for a reason worth showing (e.g. `creates`). */
  skipped?: boolean;
}

export interface ModuleContext {
  readonly hostName: string;
  readonly facts: Facts;
  readonly check: boolean;
  readonly diff: boolean;
  /** The login user of the connection (root in the lab). */
  readonly loginUser: string;
  /** Run a command on the host. The task's `become` applies unless opts.become overrides it. */
  exec(cmd: Command, opts?: ExecOptions): Promise<ExecResult>;
  put(path: string, data: string | Buffer, opts?: PutOptions): Promise<void>;
  get(path: string): Promise<Buffer>;
  /**
   * The state of paths on the host, as the task's user sees them, in one round trip. May be
   * answered by a read the runner made ahead for this task (src/runner/read-ahead.ts).
   */
  stat(reqs: readonly StatRequest[]): Promise<PathState[]>;
  /** Render a template file found on the template search path (playbook dir, then templates/). */
  renderTemplate(src: string): Promise<string>;
  /** Resolve a local (control machine) path relative to the playbook's folder. */
  localPath(path: string): string;
  /** Verbose output (-vv): commands and their output. */
  log(line: string): void;
}

export interface Module<P = Record<string, unknown>> {
  name: string;
  /** JSON schema for P; `additionalProperties: false` so a typo is an error, not a no-op. */
  schema: object;
  /** Arguments that hold secrets: their values are masked in every report. */
  secretParams?: readonly string[];
  /** The argument a bare string fills (`command: ls -l` means `{cmd: "ls -l"}`). */
  freeForm?: string;
  run(ctx: ModuleContext, params: P): Promise<ModuleResult>;
  /**
   * The file-state reads `run` starts with (its first `ctx.stat`), known from the arguments
   * alone; undefined when they are not. The runner reads them ahead, with those of the tasks
   * that follow, in one call. A module that declares reads promises that it changed nothing
   * when it reports `changed: false`.
   */
  reads?(params: P, opts: { diff: boolean }): StatRequest[] | undefined;
}

/** Helper for module authors: keep `P` typed while the registry stores Module<any>. */
export function defineModule<P>(m: Module<P>): Module<P> {
  return m;
}
