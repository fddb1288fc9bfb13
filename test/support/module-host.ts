/**
 * Modules run on a lab server as the runner runs them, for the module lab tests: arguments
 * checked with their defaults filled (checkArgs), a fresh ModuleContext for every run, and every
 * round trip (exec, put, get) counted, so a test can say what a run cost.
 */
import assert from 'node:assert/strict';
import { openConnection } from '../../src/connection/index.js';
import type { Connection } from '../../src/connection/types.js';
import type { Module, ModuleResult } from '../../src/module-kit/contract.js';
import { createModuleContext } from '../../src/module-kit/context.js';
import { gatherFacts, type Facts } from '../../src/module-kit/facts/host.js';
import { checkArgs } from '../../src/runner/args.js';
import { modules } from '../../modules/index.js';
import { labHosts, type LabServer } from '../../lab-kit/ssh.js';
import { counting } from './counting.js';

export interface ModuleRunOptions {
  check?: boolean;
  diff?: boolean;
  become?: string;
  vars?: Record<string, unknown>;
  log?: (line: string) => void;
  /** Skip the argument check the runner makes, to reach a module's own second fence. */
  unchecked?: boolean;
}

export class ModuleHost {
  /** Round trips so far, on this host's connection. */
  execs = 0;
  readonly conn: Connection;
  facts!: Facts;

  private constructor(readonly server: LabServer, real: Connection, private readonly o: { baseDir?: string; defaults?: ModuleRunOptions; record?: string[] }) {
    this.conn = counting(real, () => this.execs++);
  }

  /**
   * `baseDir` is the playbook folder local paths resolve from; `defaults` apply to every run;
   * `record` collects every -vv line and every result (for tests that search them for secrets).
   */
  static async open(server: LabServer, o: { baseDir?: string; defaults?: ModuleRunOptions; record?: string[] } = {}): Promise<ModuleHost> {
    const host = new ModuleHost(server, await openConnection(labHosts([server])[0]!), o);
    host.facts = await gatherFacts(host.conn);
    return host;
  }

  /** One run of a module (by name, or the module itself): its result and the round trips it cost. */
  async run(module: string | Module<any>, params: object, opts: ModuleRunOptions = {}): Promise<{ result: ModuleResult; execs: number }> {
    const mod = typeof module === 'string' ? (modules[module] as Module<any>) : module;
    const args = structuredClone(params) as Record<string, unknown>;
    const o = { ...this.o.defaults, ...opts };
    const bad = o.unchecked ? undefined : checkArgs(mod, args);
    assert.equal(bad, undefined, `${mod.name} arguments: ${bad}`);
    const record = this.o.record;
    const log = o.log ?? (record ? (line: string) => record.push(line) : undefined);
    const ctx = createModuleContext({ conn: this.conn, facts: this.facts, check: o.check, diff: o.diff, become: o.become, vars: o.vars ?? {}, baseDir: this.o.baseDir, log });
    const start = this.execs;
    const result = await mod.run(ctx, args);
    record?.push(JSON.stringify(result));
    return { result, execs: this.execs - start };
  }

  /** A run that must change nothing (with --diff on: and show no diff), in `execs` round trips. */
  async assertUnchanged(module: string | Module<any>, params: object, o: { execs?: number; vars?: Record<string, unknown> } = {}): Promise<ModuleResult> {
    const again = await this.run(module, params, { vars: o.vars, diff: true });
    const name = typeof module === 'string' ? module : module.name;
    assert.equal(again.result.failed, undefined, again.result.msg);
    assert.equal(again.result.changed, false, `${name} second run: ${again.result.msg}`);
    assert.equal(again.execs, o.execs ?? 1, `${name}: a no-change run costs ${o.execs ?? 1} round trip(s)`);
    assert.equal(again.result.diff, undefined, 'no diff when nothing changes');
    return again.result;
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}
