/** The Inventory object shared by both sources (definitions and inventory files). */
import { builtinSsh } from './ssh.js';
import { selectHostNames } from './patterns.js';
import type { Host, Inventory } from './types.js';

export const LOCALHOST = 'localhost';

/**
 * Like Ansible, a `localhost` host that runs on the control machine exists even when no file
 * names it (for `delegate_to: localhost` and `hosts: localhost`); it is in no group, so `all`
 * never reaches it by accident. A file that defines `localhost` itself gets its own.
 */
export function createInventory(hosts: Host[], groups: Map<string, string[]>): Inventory {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const implicit: string[] = [];
  if (!byName.has(LOCALHOST)) {
    byName.set(LOCALHOST, { name: LOCALHOST, address: '127.0.0.1', connection: 'local', ssh: builtinSsh(), vars: {}, groups: [] });
    implicit.push(LOCALHOST);
  }
  const hostNames = hosts.map((h) => h.name);
  return {
    hosts: byName,
    groups,
    select(pattern: string): Host[] {
      return selectHostNames(pattern, { hostNames, groups, implicit }).map((n) => byName.get(n)!);
    },
  };
}
