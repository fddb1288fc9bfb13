/** The inventory a run works on: generated from the definitions, or a plain inventory file. */
import { loadDefinitions, type Definitions } from '../definitions/index.js';
import { buildInventory, loadInventoryFile } from '../inventory/index.js';
import type { HostKeyPolicy, Inventory } from '../inventory/types.js';

/** A host key policy given on the command line, over every host's own (the flag wins over the definitions). */
export function withHostKeyPolicy(inventory: Inventory, policy: HostKeyPolicy | undefined): Inventory {
  if (policy) for (const h of inventory.hosts.values()) h.ssh.hostKeyPolicy = policy;
  return inventory;
}

/** The definitions in `dir`, and the inventory generated from them. */
export async function loadFleet(dir: string, policy: HostKeyPolicy | undefined): Promise<{ defs: Definitions; inventory: Inventory }> {
  const defs = await loadDefinitions(dir);
  return { defs, inventory: withHostKeyPolicy(buildInventory(defs), policy) };
}

/** The inventory and, from the definitions, their default number of forks. */
export async function loadInventory(o: { inventoryFile?: string; defs: string; hostKeyPolicy?: HostKeyPolicy }): Promise<{ inventory: Inventory; forks?: number }> {
  if (o.inventoryFile) return { inventory: withHostKeyPolicy(await loadInventoryFile(o.inventoryFile), o.hostKeyPolicy) };
  const { defs, inventory } = await loadFleet(o.defs, o.hostKeyPolicy);
  return { inventory, forks: defs.config.forks };
}
