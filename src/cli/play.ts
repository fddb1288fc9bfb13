/**
 * Running one playbook from the command line: load the inventory and the playbook (all input
 * checked before anything connects), pick a reporter, run, and map the outcome to an exit code.
 * `flight-play` and every `flight` verb go through here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConnectionPool } from '../connection/index.js';
import { loadDefinitions } from '../definitions/index.js';
import { EXIT_CODES, invalid } from '../errors.js';
import { buildInventory, loadInventoryFile } from '../inventory/index.js';
import type { Inventory } from '../inventory/types.js';
import { modules } from '../../modules/index.js';
import { catalogOf } from '../playbook/catalog.js';
import { loadPlaybook } from '../playbook/load.js';
import type { Playbook } from '../playbook/types.js';
import { PLAYBOOKS_DIR } from '../paths.js';
import { runPlaybook, type RunSummary } from '../runner/runner.js';
import { JsonReporter } from '../reporters/json.js';
import { ListrReporter } from '../reporters/listr.js';
import { PlainReporter } from '../reporters/plain.js';
import type { Reporter } from '../reporters/types.js';
import type { PlayOptions } from './options.js';

export const catalog = catalogOf(modules);

/** A built-in playbook by name (`release`, `release.yml`) or a path to the user's own. */
export function resolvePlaybook(name: string): string {
  if (fs.existsSync(name) && fs.statSync(name).isFile()) return name;
  for (const candidate of [name, `${name}.yml`, `${name}.yaml`]) {
    const builtIn = path.join(PLAYBOOKS_DIR, candidate);
    if (!candidate.includes('/') && fs.existsSync(builtIn)) return builtIn;
  }
  const builtIns = fs.readdirSync(PLAYBOOKS_DIR).filter((f) => f.endsWith('.yml')).map((f) => f.replace(/\.yml$/, ''));
  throw invalid(`playbook '${name}' not found (a path to a playbook file, or a built-in: ${builtIns.join(', ')})`);
}

/** `--host-key-policy` over every host's own (the flag wins over the definitions). */
export function withHostKeyPolicy(inventory: Inventory, policy: PlayOptions['hostKeyPolicy']): Inventory {
  if (policy) for (const h of inventory.hosts.values()) h.ssh.hostKeyPolicy = policy;
  return inventory;
}

/** The inventory and, from the definitions, the default number of forks. */
export async function loadInventory(o: Pick<PlayOptions, 'inventoryFile' | 'defs' | 'hostKeyPolicy'>): Promise<{ inventory: Inventory; forks?: number }> {
  if (o.inventoryFile) return { inventory: withHostKeyPolicy(await loadInventoryFile(o.inventoryFile), o.hostKeyPolicy) };
  const defs = await loadDefinitions(o.defs);
  return { inventory: withHostKeyPolicy(buildInventory(defs), o.hostKeyPolicy), forks: defs.config.forks };
}

export function reporterFor(output: PlayOptions['output']): Reporter {
  return output === 'json' ? new JsonReporter() : output === 'listr' ? new ListrReporter() : new PlainReporter();
}

export function exitCodeFor(summary: RunSummary): number {
  if (summary.unreachable.length) return EXIT_CODES.unreachable;
  if (summary.failed.length) return EXIT_CODES.failed;
  return EXIT_CODES.ok;
}

/** Which hosts each play would touch (`--list-hosts`). */
export function listHosts(pb: Playbook, inventory: Inventory, o: PlayOptions): string {
  const lines: string[] = [];
  const limit = o.limit ? new Set(inventory.select(o.limit).map((h) => h.name)) : undefined;
  for (const play of pb.plays) {
    const pattern = play.hosts.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, v: string) => String(o.extraVars[v] ?? `{{ ${v} }}`));
    const hosts = (pattern === 'localhost' ? ['localhost'] : inventory.select(pattern).map((h) => h.name)).filter((h) => !limit || limit.has(h));
    lines.push(`play [${play.name}] (${hosts.length}):`, ...hosts.map((h) => `  ${h}`));
  }
  return lines.join('\n');
}

export async function playCommand(playbookName: string, o: PlayOptions, preloaded?: Inventory): Promise<number> {
  const loaded = preloaded ? { inventory: preloaded } : await loadInventory(o);
  const inventory = loaded.inventory;
  // Precedence: the flag, then flight.yml, then the default.
  const forks = o.forks ?? loaded.forks ?? 25;
  const pb = loadPlaybook(resolvePlaybook(playbookName), catalog, playbookName);
  if (o.listHosts) {
    process.stdout.write(listHosts(pb, inventory, o) + '\n');
    return 0;
  }
  if (o.listTasks) {
    for (const play of pb.plays) {
      process.stdout.write(`play [${play.name}]\n`);
      for (const t of play.tasks) process.stdout.write(`  ${t.name}${t.tags.length ? `  tags=${t.tags.join(',')}` : ''}\n`);
    }
    return 0;
  }
  const reporter = reporterFor(o.output);
  const pool = new ConnectionPool();
  try {
    const summary = await runPlaybook(pb, {
      inventory, modules, catalog, connections: pool, extraVars: o.extraVars, check: o.check, diff: o.diff,
      forks, limit: o.limit, tags: o.tags, skipTags: o.skipTags, startAtTask: o.startAtTask,
      verbosity: o.verbosity, emit: (e) => reporter.handle(e),
    });
    await reporter.done();
    return exitCodeFor(summary);
  } finally {
    await pool.closeAll();
  }
}
