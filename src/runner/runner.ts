/**
 * The runner walks plays and tasks. Strategy is linear: every host finishes task N before any
 * host starts task N+1, so a release is prepared everywhere before it is switched anywhere.
 * Hosts run in parallel, bounded by `forks`. Modules never see the runner: they get a
 * ModuleContext, and the runner turns their results into events for the reporters.
 */
import path from 'node:path';
import { FlightError } from '../errors.js';
import type { Facts } from '../module-kit/facts/host.js';
import type { Connection } from '../connection/types.js';
import type { Host, Inventory } from '../inventory/types.js';
import type { Module, ModuleResult } from '../module-kit/contract.js';
import { loadTaskFile, type ModuleCatalog } from '../playbook/load.js';
import type { Play, Playbook, Task } from '../playbook/types.js';
import { renderString, renderValue, type Vars } from '../templating.js';
import { mapLimit } from '../util/limit.js';
import { checkArgs } from './args.js';
import { createModuleContext } from '../module-kit/context.js';
import type { Emit, HostStats, HostStatus } from './events.js';
import { batches } from './batches.js';
import { isActive, newHostState, recordError, recordOutcome, type HostState } from './host-state.js';
import { followingReads, type Following } from './read-ahead.js';
import { LOCALHOST, ready, type ConnectionSource } from './connect.js';
import { becomeOf, innerScope, type Scope } from './scope.js';
import { loopItems, statusOf, taskOutcome, where } from './task-outcome.js';
import { TaskVars } from './task-vars.js';

export interface RunOptions {
  inventory: Inventory;
  modules: Record<string, Module<any>>;
  catalog: ModuleCatalog;
  connections: ConnectionSource;
  extraVars: Vars;
  check: boolean;
  diff: boolean;
  forks: number;
  limit?: string;
  tags?: string[];
  skipTags?: string[];
  startAtTask?: string;
  verbosity: number;
  emit: Emit;
}

export interface RunSummary {
  hosts: Record<string, HostStats>;
  failed: string[];
  unreachable: string[];
  ms: number;
}

/** What a failed command ran and printed last, from its result's data (command and shell register them). */
function failedCommand(r: ModuleResult): { cmd?: readonly string[]; output?: string } {
  const cmd = r.data?.cmd;
  if (!Array.isArray(cmd) || !cmd.every((w) => typeof w === 'string')) return {};
  const text = [r.data?.stderr, r.data?.stdout].find((t): t is string => typeof t === 'string' && t.trim() !== '') ?? '';
  return { cmd, output: text.split('\n').slice(-10).join('\n') };
}

/** The tasks of a list as written: a block's own and its `always` ones (a rescue runs only on failure), an include as one. */
export function countTasks(tasks: readonly Task[]): number {
  return tasks.reduce((n, t) => n + (t.block ? countTasks(t.block) + countTasks(t.always ?? []) : t.meta ? 0 : 1), 0);
}

export async function runPlaybook(pb: Playbook, o: RunOptions): Promise<RunSummary> {
  return new Run(pb, o).run();
}

class Run {
  private states = new Map<string, HostState>();
  /** Hosts some play targeted: the recap lists these (not localhost used only by delegation). */
  private targeted = new Set<string>();
  private started: boolean;
  private t0 = Date.now();
  private vars: TaskVars;

  constructor(private pb: Playbook, private o: RunOptions) {
    this.started = !o.startAtTask;
    this.vars = new TaskVars(o.inventory, o.extraVars, o.check, (name) => this.states.get(name)?.registered);
  }

  async run(): Promise<RunSummary> {
    this.o.emit({ event: 'playbook_start', playbook: this.pb.path, check: this.o.check });
    for (const play of this.pb.plays) await this.runPlay(play);
    const hosts = Object.fromEntries([...this.states].filter(([n]) => this.targeted.has(n)).map(([n, s]) => [n, s.stats]));
    const summary: RunSummary = {
      hosts,
      failed: [...this.states.values()].filter((s) => s.stats.failed > 0).map((s) => s.host.name),
      unreachable: [...this.states.values()].filter((s) => s.unreachable).map((s) => s.host.name),
      ms: Date.now() - this.t0,
    };
    this.o.emit({ event: 'recap', hosts, ms: summary.ms, connections: this.o.connections.opened });
    return summary;
  }

  private state(host: Host): HostState {
    let s = this.states.get(host.name);
    if (!s) this.states.set(host.name, (s = newHostState(host)));
    return s;
  }

  private selectHosts(play: Play): Host[] {
    const pattern = renderString(play.hosts, this.o.extraVars, `play '${play.name}' hosts`);
    let hosts = pattern === 'localhost' ? [this.o.inventory.hosts.get('localhost') ?? LOCALHOST] : this.o.inventory.select(pattern);
    if (this.o.limit) {
      const allowed = new Set(this.o.inventory.select(this.o.limit).map((h) => h.name));
      hosts = hosts.filter((h) => allowed.has(h.name));
    }
    return hosts;
  }

  private async runPlay(play: Play): Promise<void> {
    const hosts = this.selectHosts(play);
    for (const h of hosts) this.targeted.add(h.name);
    this.o.emit({ event: 'play_start', play: play.name, hosts: hosts.map((h) => h.name), tasks: countTasks(play.tasks) });
    // A host that failed in an earlier play sits out the rest of the run, as in Ansible: a
    // release whose prepare play failed somewhere must never reach its switch play.
    const states = hosts.map((h) => this.state(h)).filter((s) => !s.unreachable && !s.failed);
    for (const s of states) s.ended = false;
    const playVars = { ...play.vars };
    for (const batch of batches(states, play.serial)) {
      const scope: Scope = { vars: playVars, tags: play.tags, when: [], become: play.become, becomeUser: play.becomeUser, baseDir: this.pb.dir, handler: false };
      const aborted = await this.runTasks(play, play.tasks, batch, scope);
      if (aborted) {
        // any_errors_fatal / max_fail_percentage: every host of the play stops here, and sits
        // out later plays; the hosts that did fail are what the recap and exit code report.
        const stopped = states.filter(isActive);
        for (const s of stopped) s.failed = true;
        if (stopped.length) this.o.emit({ event: 'warning', msg: `play '${play.name}' stopped on ${stopped.map((s) => s.host.name).join(', ')} because another host failed` });
        break;
      }
      await this.runHandlers(play, batch, scope);
    }
    this.o.emit({ event: 'play_end', play: play.name });
  }

  /** Runs tasks on the given hosts; returns true when the play must stop (any_errors_fatal, max_fail_percentage). */
  private async runTasks(play: Play, tasks: Task[], hosts: HostState[], scope: Scope): Promise<boolean> {
    for (const [i, task] of tasks.entries()) {
      const active = hosts.filter(isActive);
      if (active.length === 0) return false;
      const inner = innerScope(task, scope);
      if (task.block) {
        const blockAbort = await this.runTasks(play, task.block, active, inner);
        let abort = blockAbort;
        if (task.rescue) {
          // Hosts stopped by any_errors_fatal are rescued too: a failed release cleans up on
          // every server, not only on the one that broke.
          const toRescue = active.filter((h) => h.failed && !h.unreachable);
          for (const h of toRescue) {
            h.failed = false;
            if (h.failure?.host === h.host.name) {
              h.stats.failed--;
              h.stats.rescued++;
            }
          }
          abort = toRescue.length ? await this.runTasks(play, task.rescue, toRescue, inner) : false;
        }
        if (task.always) {
          // `always` runs on hosts that failed in the block too; their failure stands afterwards.
          const wasFailed = active.filter((h) => h.failed);
          for (const h of wasFailed) h.failed = false;
          const alwaysAbort = await this.runTasks(play, task.always, active.filter((h) => !h.unreachable), inner);
          for (const h of wasFailed) h.failed = true;
          abort ||= alwaysAbort;
        }
        if (abort) return true;
      } else if (task.includeTasks) {
        if (!this.selected(task, inner)) continue;
        const file = renderString(task.includeTasks, { ...this.vars.of(active[0]!, inner), ...this.o.extraVars }, task.name);
        const full = path.resolve(scope.baseDir, file);
        const included = loadTaskFile(full, this.o.catalog, path.relative(process.cwd(), full) || full);
        if (await this.runTasks(play, included, active, { ...inner, baseDir: path.dirname(full) })) return true;
      } else if (task.meta) {
        if (task.meta === 'flush_handlers') await this.runHandlers(play, active, scope);
        else if (task.meta === 'end_host') {
          // Each host decides by its own `when`.
          for (const h of active) if (this.vars.conditionsHold(task, h, inner)) h.ended = true;
        } else if (task.meta === 'end_play') {
          if (active.some((h) => this.vars.conditionsHold(task, h, inner))) return true;
        }
      } else {
        if (!this.selected(task, inner)) continue;
        if (await this.runModuleTask(play, task, active, inner, { tasks: tasks.slice(i + 1), scope })) return true;
      }
    }
    return false;
  }

  /** Tag filters and --start-at-task. */
  private selected(task: Task, scope: Scope): boolean {
    if (!this.started) {
      if (task.name !== this.o.startAtTask) return false;
      this.started = true;
    }
    const tags = new Set(scope.tags);
    if (this.o.skipTags?.some((t) => tags.has(t))) return false;
    if (this.o.tags?.length && !tags.has('always') && !this.o.tags.some((t) => tags.has(t))) return false;
    return true;
  }

  private async runModuleTask(play: Play, task: Task, hosts: HostState[], scope: Scope, next?: Following): Promise<boolean> {
    const t0 = Date.now();
    const targets = task.runOnce ? hosts.slice(0, 1) : hosts;
    const label = this.vars.displayName(task, hosts[0]!, scope);
    this.o.emit({
      event: 'task_start', play: play.name, task: label, hosts: targets.map((h) => h.host.name),
      handler: scope.handler, pos: `${path.relative(process.cwd(), task.pos.file) || task.pos.file}:${task.pos.line}`,
    });
    const before = hosts.filter((h) => h.failed).length;
    const results = await mapLimit(targets, this.o.forks, (h) => this.runOnHost(task, h, scope, label, next));
    if (task.runOnce && task.register && results[0]) {
      // run_once: every host sees the one result, as in Ansible.
      for (const h of hosts.slice(1)) h.registered[task.register] = results[0];
    }
    this.o.emit({ event: 'task_end', task: label, ms: Date.now() - t0 });
    const failedNow = hosts.filter((h) => h.failed || h.unreachable).length;
    if (play.anyErrorsFatal && failedNow > before) {
      // Every other host stops too, carrying the first failure so a rescue can name it.
      const culprit = hosts.find((h) => (h.failed || h.unreachable) && h.failure) ?? hosts.find((h) => h.failed || h.unreachable)!;
      const failure = culprit.failure ?? { host: culprit.host.name, task: task.name, msg: 'unreachable' };
      for (const h of hosts) {
        if (!isActive(h)) continue;
        h.failed = true;
        h.failure = failure;
      }
      return true;
    }
    if (play.maxFailPercentage !== undefined && (failedNow / hosts.length) * 100 > play.maxFailPercentage) return true;
    return false;
  }

  private connect(h: HostState, task: Task): Promise<{ conn: Connection; facts: Facts }> {
    if (task.delegateTo === 'localhost' || h.host.connection === 'local') {
      return ready(this.state(this.o.inventory.hosts.get('localhost') ?? LOCALHOST), this.o.connections);
    }
    if (task.delegateTo) return Promise.reject(new FlightError('invalid', `${where(task)}: delegate_to supports only 'localhost'`));
    return ready(h, this.o.connections);
  }

  private async runOnHost(task: Task, h: HostState, scope: Scope, label: string, next: Following | undefined): Promise<Record<string, unknown> | undefined> {
    const t0 = Date.now();
    const report = (status: HostStatus, r: Partial<ModuleResult> & { ignored?: boolean; item?: unknown }, failedWith?: ModuleResult) => {
      this.o.emit({
        event: 'host_result', task: label, host: h.host.name, status, msg: r.msg, diff: r.diff,
        ignored: r.ignored, item: r.item, ms: Date.now() - t0, handler: scope.handler,
        ...(status === 'failed' && failedWith ? failedCommand(failedWith) : {}),
      });
    };
    try {
      // Facts first: `when` may test them, and the connection opens here.
      const { conn, facts } = await this.connect(h, task);
      const vars = this.vars.of(h, scope);
      if (!this.vars.conditionsHold(task, h, scope, vars)) {
        h.stats.skipped++;
        report('skipped', { msg: 'condition false' });
        if (task.register) h.registered[task.register] = { skipped: true, changed: false, failed: false };
        return { skipped: true };
      }
      const items = task.loop === undefined ? [undefined] : loopItems(task, vars);
      const results: Array<ModuleResult & { item?: unknown }> = [];
      for (const item of items) {
        const itemVars = task.loop === undefined ? vars : { ...vars, [task.loopVar]: item };
        const r = await this.runModule(task, itemVars, conn, facts, scope, h, next);
        // Reads made ahead stay true only while nothing changes the host, except the ones a
        // change of a task with declared reads made after its last command (read-ahead.ts).
        if (r.failed || !this.o.modules[task.module!]?.reads || task.delegateTo) h.reads.forget();
        else if (r.changed) h.reads.settle();
        results.push(task.loop === undefined ? r : { ...r, item });
        if (task.loop !== undefined && this.o.verbosity > 0) report(statusOf(r), { ...r, item });
        if (r.failed) break;
      }
      const outcome = taskOutcome(task, results, vars);
      const { registered, diff } = outcome;
      if (task.register) h.registered[task.register] = registered;
      // Modules may set host variables for later tasks (set_fact does nothing else).
      for (const r of results) {
        const facts = r.data?.facts;
        if (!r.failed && facts && typeof facts === 'object') Object.assign(h.registered, facts);
      }
      const recorded = recordOutcome(h, task, label, outcome);
      report(recorded.status, { ...recorded, diff }, results.find((r) => r.failed));
      return registered;
    } catch (err) {
      h.reads.forget();
      const recorded = recordError(h, task, err);
      report(recorded.status, recorded);
      return undefined;
    }
  }

  private async runModule(task: Task, vars: Vars, conn: Connection, facts: Facts, scope: Scope, h: HostState, next: Following | undefined): Promise<ModuleResult> {
    const module = this.o.modules[task.module!]!;
    const args = renderValue(task.args, vars, `${where(task)}: ${task.module}`) as Record<string, unknown>;
    const bad = checkArgs(module, args);
    if (bad) return { changed: false, failed: true, msg: `${task.module}: ${bad}` };
    const check = task.checkMode ?? this.o.check;
    const become = becomeOf(scope);
    const ctx = createModuleContext({
      conn, facts, check, diff: this.o.diff, become, vars, baseDir: scope.baseDir,
      log: this.o.verbosity >= 2 ? (line) => this.o.emit({ event: 'log', host: conn.hostName, line }) : undefined,
      readAhead: module.reads && !task.delegateTo ? { cache: h.reads, following: () => (next ? followingReads(next, { modules: this.o.modules, become, diff: this.o.diff, varsOf: (sc) => this.vars.of(h, sc) }) : []) } : undefined,
    });
    return module.run(ctx, args);
  }

  private async runHandlers(play: Play, hosts: HostState[], scope: Scope): Promise<void> {
    for (const handler of play.handlers) {
      const names = [handler.name, ...handler.listen];
      const targets = hosts.filter((h) => isActive(h) && names.some((n) => h.notified.has(n)));
      if (targets.length === 0) continue;
      for (const h of targets) for (const n of names) h.notified.delete(n);
      await this.runModuleTaskOrBlock(play, handler, targets, { ...scope, handler: true });
    }
  }

  private async runModuleTaskOrBlock(play: Play, task: Task, hosts: HostState[], scope: Scope): Promise<void> {
    if (task.module) await this.runModuleTask(play, task, hosts, scope);
    else await this.runTasks(play, [task], hosts, scope);
  }
}
