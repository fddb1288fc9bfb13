/** The inventory a run works on: generated from the definitions, or a plain inventory file. */
import { loadDefinitions } from '../definitions/index.js';
import { buildInventory, loadInventoryFile } from '../inventory/index.js';
import type { HostKeyPolicy, Inventory } from '../inventory/types.js';

/** A host key policy given on the command line, over every host's own (the flag wins over the definitions). */
export function withHostKeyPolicy(inventory: Inventory, policy: HostKeyPolicy | undefined): Inventory {
  if (policy) for (const h of inventory.hosts.values()) h.ssh.hostKeyPolicy = policy;
  return inventory;
}

/** The inventory and, from the definitions, their default number of forks. */
export async function loadInventory(o: { inventoryFile?: string; defs: string; hostKeyPolicy?: HostKeyPolicy }): Promise<{ inventory: Inventory; forks?: number }> {
  if (o.inventoryFile) return { inventory: withHostKeyPolicy(await loadInventoryFile(o.inventoryFile), o.hostKeyPolicy) };
  const defs = await loadDefinitions(o.defs);
  return { inventory: withHostKeyPolicy(buildInventory(defs), o.hostKeyPolicy), forks: defs.config.forks };
}
