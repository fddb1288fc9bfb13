/**
 * One module on one host, outside a playbook: for front ends that read or change one thing
 * (`flight app:releases` reads each server's releases; `flight server:add` holds an app's
 * deploy lock across several playbook runs). The same module code and context a task gets.
 */
import type { ConnectionSource } from '../runner/connect.js';
import { unreachable } from '../errors.js';
import { gatherFacts, type Facts } from '../module-kit/facts/host.js';
import type { Host } from '../inventory/types.js';
import type { Module, ModuleContext, ModuleResult } from '../module-kit/contract.js';
import { createModuleContext } from '../module-kit/context.js';

const facts = new WeakMap<object, Facts>();

/** A module context on one host (as root with `become`, as the built-in playbooks run); facts read once per connection. */
export async function hostContext(pool: ConnectionSource, host: Host, become = true): Promise<ModuleContext> {
  try {
    const conn = await pool.get(host);
    let f = facts.get(conn);
    if (!f) facts.set(conn, (f = await gatherFacts(conn)));
    return createModuleContext({ conn, facts: f, become });
  } catch (err) {
    throw unreachable(`${host.name} (${host.address}): ${(err as Error).message}`, err);
  }
}

/** One module call on one host. */
export async function callModule<P>(pool: ConnectionSource, host: Host, mod: Module<P>, params: P, become = true): Promise<ModuleResult> {
  return mod.run(await hostContext(pool, host, become), params);
}
