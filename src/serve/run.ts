/**
 * One deploy = a built-in playbook run in this process exactly as the `flight` verb runs it:
 * a release is `flight app:release APP SHA`, a rollback `flight app:rollback APP` guarded so
 * that it undoes only the commit it was asked about. The output goes to the deploy's log (plain
 * reporter, no colours) and the per-server outcome is kept for the deploy's status.
 */
import os from 'node:os';
import { loadDefinitions } from '../definitions/index.js';
import { runPlaybookIn } from '../engine/run.js';
import { messageOf } from '../errors.js';
import { buildInventory } from '../inventory/index.js';
import { PlainReporter } from '../reporters/plain.js';
import type { DeployKind, ServerResult } from './types.js';

export interface DeployRequest {
  defsDir: string;
  app: string;
  kind: DeployKind;
  /** The commit to release; for a rollback, the commit that must still be serving. */
  sha: string;
  /** Who the servers' release log and lock name, after flight-serve@host. */
  who: string;
  /** The deploy lock's owner id (see the lock rule in docs/serve.md). */
  runId: string;
  write: (line: string) => void;
}

export interface DeployOutcome {
  ok: boolean;
  error?: string;
  servers: Record<string, ServerResult>;
}

export type DeployRunner = (r: DeployRequest) => Promise<DeployOutcome>;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

export const runDeploy: DeployRunner = async (r) => {
  const servers: Record<string, ServerResult> = {};
  try {
    // Definitions are read afresh for each deploy: a change to an app's file applies to its
    // next deploy without restarting the server.
    const defs = await loadDefinitions(r.defsDir);
    if (!defs.apps.has(r.app)) return { ok: false, error: `app '${r.app}' is no longer in the definitions`, servers };
    const vars = r.kind === 'release' ? { sha: r.sha } : { from_sha: r.sha };
    const run = await runPlaybookIn({
      playbook: r.kind, inventory: buildInventory(defs), forks: defs.config.forks,
      vars: { app: r.app, ...vars, flight_run_id: r.runId, deployer: `flight-serve@${os.hostname()} (${r.who})` },
      reporter: new PlainReporter((s) => r.write(s.replace(ANSI, ''))),
    });
    for (const [host, s] of Object.entries(run.summary.hosts)) {
      if (host === 'localhost') continue;
      // A server no task ran on (the run stopped before it got there) is not `ok`.
      const reached = s.ok + s.changed + s.failed + s.unreachable + s.rescued + s.ignored > 0;
      const status = s.unreachable ? 'unreachable' : s.failed ? 'failed' : s.changed ? 'changed' : reached ? 'ok' : 'not reached';
      const error = run.firstFailure.get(host);
      servers[host] = { status, ...s, ...(error ? { error } : {}) };
    }
    if (run.ok) return { ok: true, servers };
    const bad = [...run.summary.failed, ...run.summary.unreachable];
    return { ok: false, error: run.lastError ?? `failed on ${bad.join(', ')}`, servers };
  } catch (err) {
    const error = messageOf(err);
    r.write(`error: ${error}`);
    return { ok: false, error, servers };
  }
};
