/**
 * The steps of `flight server:add` / `server:remove` that touch servers: a built-in playbook
 * run in this process exactly as its `flight` verb runs it (same playbook, same modules), on a
 * connection pool the whole add shares; and single module calls on one host for the deploy
 * lock and the records beside it, which outlive one playbook run.
 */
import type { ConnectionPool } from '../connection/index.js';
import { failed, unreachable } from '../errors.js';
import { gatherFacts } from '../facts/host.js';
import type { Host, Inventory } from '../inventory/types.js';
import type { Module, ModuleContext, ModuleResult } from '../module.js';
import { modules } from '../../modules/index.js';
import { catalog, resolvePlaybook } from '../cli/play.js';
import { loadPlaybook } from '../playbook/load.js';
import type { Reporter } from '../reporters/types.js';
import { runPlaybook } from '../runner/runner.js';
import { createModuleContext } from '../runner/context.js';
import type { Vars } from '../templating.js';

export interface PlaybookRun {
  inventory: Inventory;
  pool: ConnectionPool;
  /** A fresh reporter for this run (reporters keep per-run state). */
  reporter: Reporter;
  forks: number;
  verbosity: number;
}

/**
 * Run a built-in playbook on one host (`limit`), and on the hosts of `alsoOn` (a host pattern)
 * where the playbook has plays for them: an app's database server, for one that joins. Throws,
 * naming the first failure, unless every host is ok.
 */
export async function runBuiltin(name: string, vars: Vars, limit: string, o: PlaybookRun, alsoOn?: string): Promise<void> {
  const pb = loadPlaybook(resolvePlaybook(name), catalog, name);
  let first: string | undefined;
  const summary = await runPlaybook(pb, {
    inventory: o.inventory, modules, catalog, connections: o.pool, extraVars: vars, check: false, diff: false,
    forks: o.forks, limit: alsoOn ? `${limit}:${alsoOn}` : limit, verbosity: o.verbosity,
    emit: (e) => {
      if (e.event === 'host_result' && (e.status === 'failed' || e.status === 'unreachable') && !e.ignored) first ??= `${e.host}: ${e.task}: ${e.msg ?? e.status}`;
      o.reporter.handle(e);
    },
  });
  await o.reporter.done();
  if (summary.unreachable.length) throw unreachable(`${name} playbook: ${first ?? `${summary.unreachable.join(', ')} unreachable`}`);
  if (summary.failed.length) throw failed(`${name} playbook: ${first ?? `failed on ${summary.failed.join(', ')}`}`);
  if (!Object.keys(summary.hosts).includes(limit)) throw failed(`${name} playbook did not reach ${limit}`);
}

const facts = new WeakMap<object, Awaited<ReturnType<typeof gatherFacts>>>();

/** A module context on one host, as root (as the built-in playbooks run); facts read once per connection. */
export async function hostContext(pool: ConnectionPool, host: Host): Promise<ModuleContext> {
  try {
    const conn = await pool.get(host);
    let f = facts.get(conn);
    if (!f) facts.set(conn, (f = await gatherFacts(conn)));
    return createModuleContext({ conn, facts: f, become: true });
  } catch (err) {
    throw unreachable(`${host.name} (${host.address}): ${(err as Error).message}`, err);
  }
}

/** One module call on one host. */
export async function callModule<P>(pool: ConnectionPool, host: Host, mod: Module<P>, params: P): Promise<ModuleResult> {
  return mod.run(await hostContext(pool, host), params);
}
