/**
 * Taking out a server the definitions no longer list (an add that died between recording it
 * joined beside an app's lock and recording it in the cluster's files): `flight server:remove`
 * finds its records beside every app's deploy lock in the cluster and marks them left.
 */
import type { Definitions } from '../definitions/types.js';
import { withHostKeyPolicy } from '../engine/inventory.js';
import { invalid, messageOf } from '../errors.js';
import { buildInventory } from '../inventory/index.js';
import { freeLock, joinedRecords, recordMembership, takeLock } from './app-steps.js';
import type { Session } from './session.js';

/**
 * A server no longer in the definitions but still recorded as joined beside some app's lock
 * (an add that died between the two): its `joined` lines become `left`, so releases go on.
 */
export async function forgetServer(s: Session, defs: Definitions): Promise<string[]> {
  const inventory = withHostKeyPolicy(buildInventory(defs), s.o.hostKeyPolicy);
  const found: string[] = [];
  const unchecked: string[] = [];
  for (const app of defs.apps.values()) {
    if (app.cluster !== s.cluster) continue;
    const lockHost = inventory.select(`app_${app.name}`)[0];
    if (!lockHost) continue;
    const records = await joinedRecords(s, lockHost, app.home).catch((err: unknown) => {
      unchecked.push(`${app.name} on ${lockHost.name}: ${messageOf(err)}`);
      return undefined;
    });
    if (!records?.some((x) => x.state === 'joined' && x.name === s.name)) continue;
    await takeLock(s, lockHost, app.name, app.home);
    try {
      await recordMembership(s, lockHost, app.home, 'left');
    } finally {
      await freeLock(s, lockHost, app.name, app.home);
    }
    s.r.step(`${app.name}: ${s.name} was still recorded as joined on ${lockHost.name}: now left`);
    found.push(app.name);
  }
  if (!found.length) {
    const names = defs.clusters.get(s.cluster)!.servers.map((x) => x.name);
    throw invalid(`no server '${s.name}' in cluster '${s.cluster}' (its servers: ${names.join(', ')})` +
      (unchecked.length ? `; could not look for records of it beside the deploy locks of ${unchecked.join('; ')}` : ''));
  }
  return found;
}
