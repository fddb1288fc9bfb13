/**
 * `flight app:releases APP`: what each server of an app holds: its releases (id, sha, when, who,
 * outcome from the release log) and which one is current. Read-only; one round trip per server.
 */
import chalk from 'chalk';
import { ConnectionPool } from '../connection/index.js';
import type { Definitions } from '../definitions/index.js';
import { callModule } from '../engine/module-call.js';
import type { Inventory } from '../inventory/types.js';
import { release_info, type ReleaseState } from '../../modules/release_info.js';
import { mapLimit } from '../util/limit.js';
import { failed } from '../errors.js';

export async function listReleases(app: string, defs: Definitions, inventory: Inventory, json: boolean): Promise<number> {
  const home = defs.apps.get(app)!.home;
  const hosts = inventory.select(`app_${app}`);
  const pool = new ConnectionPool();
  try {
    const states = await mapLimit(hosts, 25, async (host) => {
      const r = await callModule(pool, host, release_info, { home });
      if (r.failed) throw failed(`${host.name}: ${r.msg}`);
      return { host: host.name, ...(r.data as unknown as ReleaseState) };
    });
    if (json) {
      process.stdout.write(JSON.stringify({ app, servers: states }) + '\n');
      return 0;
    }
    for (const s of states) {
      process.stdout.write(chalk.bold(`${s.host}`) + `  current: ${s.current ?? 'none'}\n`);
      const logById = new Map(s.log.map((l) => [l.id, l]));
      for (const r of [...s.releases].reverse()) {
        const l = logById.get(r.id);
        const mark = r.id === s.current ? chalk.green('* ') : '  ';
        const outcome = r.complete ? (l?.outcome ?? '') : 'incomplete';
        process.stdout.write(`  ${mark}${r.id}  ${(r.sha || '-').slice(0, 12).padEnd(12)}  ${(l?.time ?? '').padEnd(20)}  ${(l?.who ?? '').padEnd(18)}  ${outcome}\n`);
      }
      const failedRuns = s.log.filter((l) => l.outcome !== 'ok' && !s.releases.some((r) => r.id === l.id));
      for (const l of failedRuns.slice(-5)) {
        process.stdout.write(chalk.dim(`    ${l.id}  ${l.sha.slice(0, 12).padEnd(12)}  ${l.time.padEnd(20)}  ${l.who.padEnd(18)}  ${l.outcome} (removed)\n`));
      }
    }
    return 0;
  } finally {
    await pool.closeAll();
  }
}
