/**
 * Running one playbook from the command line, on the engine (src/engine): load the inventory and
 * the playbook (all input checked before anything connects), pick a reporter, run, and map the
 * outcome to an exit code. `flight-play` and every `flight` verb go through here.
 */
import { EXIT_CODES } from '../errors.js';
import { loadInventory } from '../engine/inventory.js';
import { loadPlaybook } from '../engine/playbooks.js';
import { runPlaybookIn } from '../engine/run.js';
import type { Inventory } from '../inventory/types.js';
import type { Playbook } from '../playbook/types.js';
import { reporterFor } from '../reporters/for-output.js';
import type { RunSummary } from '../runner/runner.js';
import type { PlayOptions } from './options.js';

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
  const pb = loadPlaybook(playbookName);
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
  const { summary } = await runPlaybookIn({
    playbook: pb, inventory, vars: o.extraVars, check: o.check, diff: o.diff, forks, limit: o.limit, tags: o.tags,
    skipTags: o.skipTags, startAtTask: o.startAtTask, verbosity: o.verbosity, reporter: reporterFor(o.output, o.verbosity),
  });
  return exitCodeFor(summary);
}
