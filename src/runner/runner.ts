/**
 * The runner walks plays and tasks. Strategy is linear: every host finishes task N before any
 * host starts task N+1, so a release is prepared everywhere before it is switched anywhere.
 * Hosts run in parallel, bounded by `forks`. Modules never see the runner: they get a
 * ModuleContext, and the runner turns their results into events for the reporters.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { FlightError, messageOf } from '../errors.js';
import type { StatRequest } from '../module-kit/facts/file.js';
import { gatherFacts, type Facts } from '../module-kit/facts/host.js';
import type { Connection } from '../connection/types.js';
import type { Host, Inventory } from '../inventory/types.js';
import type { Module, ModuleResult } from '../module-kit/contract.js';
import { loadTaskFile, type ModuleCatalog } from '../playbook/load.js';
import type { Play, Playbook, Task } from '../playbook/types.js';
import { evaluate, renderString, renderValue, type Vars } from '../templating.js';
import { mapLimit } from '../util/limit.js';
import { checkArgs } from './args.js';
import { createModuleContext } from '../module-kit/context.js';
import type { Emit, HostStats, HostStatus } from './events.js';
import { batches } from './batches.js';
import { isActive, newHostState, type HostState } from './host-state.js';
import { liveHostvars } from './hostvars.js';
import { becomeOf, innerScope, type Scope } from './scope.js';

/** Where connections come from: the SSH pool in real runs. Opened once per host per run. */
export interface ConnectionSource {
  get(host: Host): Promise<Connection>;
  readonly opened: number;
}

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

const LOCALHOST: Host = {
  name: 'localhost', address: '127.0.0.1', connection: 'local',
  ssh: { user: '', port: 0, hostKeyPolicy: 'strict', connectTimeout: 10 }, vars: {}, groups: [],
};

export async function runPlaybook(pb: Playbook, o: RunOptions): Promise<RunSummary> {
  return new Run(pb, o).run();
}

class Run {
  private states = new Map<string, HostState>();
  /** Hosts some play targeted: the recap lists these (not localhost used only by delegation). */
  private targeted = new Set<string>();
  private started: boolean;
  private t0 = Date.now();
  private groupsVar: Record<string, string[]>;
  /** Names this run in locks and release logs; `deployer` says who ran it. */
  private runVars = {
    flight_run_id: randomBytes(8).toString('hex'),
    deployer: `${os.userInfo().username}@${os.hostname()}`,
  };
  /** Every host's variables and, as in Ansible, what it registered in the plays so far. */
  private hostvars: Record<string, unknown>;

  constructor(private pb: Playbook, private o: RunOptions) {
    this.started = !o.startAtTask;
    this.groupsVar = Object.fromEntries(o.inventory.groups);
    this.hostvars = liveHostvars(o.inventory.hosts, (name) => this.states.get(name)?.registered);
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
    this.o.emit({ event: 'play_start', play: play.name, hosts: hosts.map((h) => h.name) });
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
        const file = renderString(task.includeTasks, { ...this.hostVars(active[0]!, inner), ...this.o.extraVars }, task.name);
        const full = path.resolve(scope.baseDir, file);
        const included = loadTaskFile(full, this.o.catalog, path.relative(process.cwd(), full) || full);
        if (await this.runTasks(play, included, active, { ...inner, baseDir: path.dirname(full) })) return true;
      } else if (task.meta) {
        if (task.meta === 'flush_handlers') await this.runHandlers(play, active, scope);
        else if (task.meta === 'end_host') {
          // Each host decides by its own `when`.
          for (const h of active) if (this.conditionsHold(task, h, inner)) h.ended = true;
        } else if (task.meta === 'end_play') {
          if (active.some((h) => this.conditionsHold(task, h, inner))) return true;
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
    const label = this.displayName(task, hosts[0]!, scope);
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

  /**
   * The variables a task sees on a host. Precedence, lowest first: host vars, play/block/task
   * vars, registered results and set facts, extra vars. Play and task vars are rendered here,
   * per host and in order, so `application: "{{ apps[app] }}"` becomes that host's object.
   */
  /** Task names may use variables ("Record the release ({{ outcome }})"); shown rendered when they can be. */
  private displayName(task: Task, h: HostState, scope: Scope): string {
    try {
      return renderString(task.name, this.hostVars(h, scope), task.name);
    } catch {
      return task.name;
    }
  }

  private hostVars(h: HostState, scope: Scope): Vars {
    const vars: Vars = {
      ...h.host.vars,
      inventory_hostname: h.host.name,
      groups: this.groupsVar,
      hostvars: this.hostvars,
      ...this.runVars,
      facts: h.facts ?? {},
      check_mode: this.o.check,
      ...(h.failure ? { failed_host: h.failure.host, failed_task: h.failure.task, failed_msg: h.failure.msg } : {}),
      ...h.registered,
      ...this.o.extraVars,
    };
    // As in Ansible, a var may refer to a result registered later (release_dir ->
    // build.release_id): one that cannot be rendered yet is left out, and a task that reads
    // it gets the usual undefined-variable error naming it.
    for (const [k, v] of Object.entries(scope.vars)) {
      if (k in this.o.extraVars || k in h.registered) continue;
      try {
        vars[k] = renderValue(v, vars, `vars.${k}`);
      } catch {
        delete vars[k];
      }
    }
    return vars;
  }

  private conditionsHold(task: Task, h: HostState, scope: Scope, vars = this.hostVars(h, scope)): boolean {
    const conditions = task.block || task.includeTasks ? scope.when : [...scope.when, ...task.when];
    return conditions.every((cond) => truthy(evaluate(cond, vars, `${where(task)}: when '${cond}'`)));
  }

  private connect(h: HostState, task: Task): Promise<{ conn: Connection; facts: Facts }> {
    if (task.delegateTo === 'localhost' || h.host.connection === 'local') {
      return this.ready(this.state(this.o.inventory.hosts.get('localhost') ?? LOCALHOST));
    }
    if (task.delegateTo) return Promise.reject(new FlightError('invalid', `${where(task)}: delegate_to supports only 'localhost'`));
    return this.ready(h);
  }

  /**
   * The host's connection and facts, opened once per run when a task first needs them (so a
   * release whose commit does not exist fails on this machine without logging in anywhere).
   * The outcome is kept, failure included: an unreachable host is not dialled again, and hosts
   * that delegate to this machine at once share one read of its facts.
   */
  private ready(h: HostState): Promise<{ conn: Connection; facts: Facts }> {
    h.ready ??= (async () => {
      const conn = await this.o.connections.get(h.host);
      const facts = await gatherFacts(conn);
      h.facts = facts;
      return { conn, facts };
    })();
    return h.ready;
  }

  private async runOnHost(task: Task, h: HostState, scope: Scope, label: string, next: Following | undefined): Promise<Record<string, unknown> | undefined> {
    const t0 = Date.now();
    const report = (status: HostStatus, r: Partial<ModuleResult> & { ignored?: boolean; item?: unknown }) => {
      this.o.emit({
        event: 'host_result', task: label, host: h.host.name, status, msg: r.msg, diff: r.diff,
        ignored: r.ignored, item: r.item, ms: Date.now() - t0, handler: scope.handler,
      });
    };
    try {
      // Facts first: `when` may test them, and the connection opens here.
      const { conn, facts } = await this.connect(h, task);
      const vars = this.hostVars(h, scope);
      if (!this.conditionsHold(task, h, scope, vars)) {
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
        // Reads made ahead stay true only while nothing changes the host (read-ahead.ts).
        if (r.changed || r.failed || !this.o.modules[task.module!]?.reads || task.delegateTo) h.reads.forget();
        results.push(task.loop === undefined ? r : { ...r, item });
        if (task.loop !== undefined && this.o.verbosity > 0) report(statusOf(r), { ...r, item });
        if (r.failed) break;
      }
      const changed = results.some((r) => r.changed);
      const failedResult = results.find((r) => r.failed);
      const registered: Record<string, unknown> = task.loop === undefined
        ? { ...(results[0]!.data ?? {}), changed, failed: !!failedResult, msg: results[0]!.msg ?? '', skipped: !!results[0]!.skipped }
        : { changed, failed: !!failedResult, results: results.map((r) => ({ ...(r.data ?? {}), changed: r.changed, failed: !!r.failed, msg: r.msg ?? '', item: r.item })) };
      if (task.register) h.registered[task.register] = registered;
      // Modules may set host variables for later tasks (set_fact does nothing else).
      for (const r of results) {
        const facts = r.data?.facts;
        if (!r.failed && facts && typeof facts === 'object') Object.assign(h.registered, facts);
      }
      const outcome = this.applyOverrides(task, { ...vars, result: registered, ...(task.register ? { [task.register]: registered } : {}) }, changed, !!failedResult);
      const msg = failedResult?.msg ?? (results.length === 1 ? results[0]!.msg : `${results.length} items`);
      const diff = results.flatMap((r) => r.diff ?? []);
      if (outcome.failed) {
        h.stats.failed++;
        if (task.ignoreErrors) {
          h.stats.failed--;
          h.stats.ignored++;
          report('failed', { msg, diff, ignored: true });
        } else {
          h.failed = true;
          h.failure = { host: h.host.name, task: label, msg: msg ?? '' };
          report('failed', { msg, diff });
        }
      } else {
        const allSkipped = results.every((r) => r.skipped);
        if (outcome.changed) h.stats.changed++;
        else if (allSkipped) h.stats.skipped++;
        else h.stats.ok++;
        if (outcome.changed) for (const n of task.notify) h.notified.add(n);
        report(outcome.changed ? 'changed' : allSkipped ? 'skipped' : 'ok', { msg, diff });
      }
      return registered;
    } catch (err) {
      h.reads.forget();
      if (err instanceof FlightError && err.kind === 'unreachable') {
        h.unreachable = true;
        h.failure = { host: h.host.name, task: task.name, msg: err.message };
        h.stats.unreachable++;
        report('unreachable', { msg: err.message });
      } else {
        h.failed = !task.ignoreErrors;
        if (task.ignoreErrors) h.stats.ignored++;
        else {
          h.stats.failed++;
          h.failure = { host: h.host.name, task: task.name, msg: messageOf(err) };
        }
        report('failed', { msg: messageOf(err), ignored: task.ignoreErrors });
      }
      return undefined;
    }
  }

  private applyOverrides(task: Task, vars: Vars, changed: boolean, failed: boolean): { changed: boolean; failed: boolean } {
    const judge = (rule: string | boolean, label: string) =>
      typeof rule === 'boolean' ? rule : truthy(evaluate(rule, vars, `${where(task)}: ${label} '${rule}'`));
    return {
      changed: task.changedWhen === undefined ? changed : judge(task.changedWhen, 'changed_when'),
      failed: task.failedWhen === undefined ? failed : judge(task.failedWhen, 'failed_when'),
    };
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
      readAhead: module.reads && !task.delegateTo ? { cache: h.reads, following: () => (next ? this.followingReads(h, next, become) : []) } : undefined,
    });
    return module.run(ctx, args);
  }

  /**
   * The file-state reads of the tasks that follow on this host, as far as the next one that is
   * not a plain task of a module with declared reads run as the same user, or whose arguments
   * cannot be known yet (read-ahead.ts). A task skipped later by its `when` or its tags only
   * costs its paths a place in the one `stat`.
   */
  private followingReads(h: HostState, next: Following, become: string | undefined): StatRequest[] {
    const reqs: StatRequest[] = [];
    for (const t of next.tasks) {
      const module = t.module ? this.o.modules[t.module] : undefined;
      if (!module?.reads || t.loop !== undefined || t.delegateTo || t.runOnce || reqs.length >= READ_AHEAD_MAX) break;
      const scope = innerScope(t, next.scope);
      if (becomeOf(scope) !== become) break;
      try {
        const args = renderValue(t.args, this.hostVars(h, scope), `${where(t)}: ${t.module}`) as Record<string, unknown>;
        const more = checkArgs(module, args) ? undefined : module.reads(args, { diff: this.o.diff });
        if (!more) break;
        reqs.push(...more);
      } catch {
        break;
      }
    }
    return reqs;
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

/** The tasks after the one running, in the same list, and the scope they run in (none for a handler). */
interface Following {
  tasks: Task[];
  scope: Scope;
}

/** Paths read ahead at most, in one call. */
const READ_AHEAD_MAX = 32;

function where(task: Task): string {
  return `task '${task.name}' (${path.relative(process.cwd(), task.pos.file) || task.pos.file}:${task.pos.line})`;
}

function truthy(v: unknown): boolean {
  if (typeof v === 'string') return !['', 'false', 'no', '0', 'off'].includes(v.trim().toLowerCase());
  if (Array.isArray(v)) return v.length > 0;
  return Boolean(v);
}

function loopItems(task: Task, vars: Vars): unknown[] {
  const v = renderValue(task.loop, vars, `${where(task)}: loop`);
  if (!Array.isArray(v)) throw new FlightError('invalid', `${where(task)}: loop must be a list, got ${typeof v}`);
  return v;
}

function statusOf(r: ModuleResult): HostStatus {
  return r.failed ? 'failed' : r.changed ? 'changed' : r.skipped ? 'skipped' : 'ok';
}

