/**
 * The steps of `flight server:add` / `server:remove` that run playbooks: a built-in playbook run
 * on the engine exactly as its `flight` verb runs it (same playbook, same modules), on a
 * connection pool the whole add shares. Single module calls (the deploy lock and the records
 * beside it, which outlive one playbook run) are the engine's callModule.
 */
import type { ConnectionPool } from '../connection/index.js';
import { runPlaybookIn } from '../engine/run.js';
import { failed, unreachable } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { Reporter } from '../reporters/types.js';
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
  const { summary, firstFailure } = await runPlaybookIn({
    playbook: name, inventory: o.inventory, connections: o.pool, vars, forks: o.forks,
    limit: alsoOn ? `${limit}:${alsoOn}` : limit, verbosity: o.verbosity, reporter: o.reporter,
  });
  const [host, what] = [...firstFailure][0] ?? [];
  const first = host ? `${host}: ${what}` : undefined;
  if (summary.unreachable.length) throw unreachable(`${name} playbook: ${first ?? `${summary.unreachable.join(', ')} unreachable`}`);
  if (summary.failed.length) throw failed(`${name} playbook: ${first ?? `failed on ${summary.failed.join(', ')}`}`);
  if (!Object.keys(summary.hosts).includes(limit)) throw failed(`${name} playbook did not reach ${limit}`);
}
