/**
 * One deploy = a built-in playbook run in this process exactly as the `flight` verb runs it:
 * a release is `flight app:release APP SHA`, a rollback `flight app:rollback APP` guarded so
 * that it undoes only the commit it was asked about. The output goes to the deploy's log (plain
 * reporter, no colours) and the per-server outcome is kept for the deploy's status.
 */
import os from 'node:os';
import { ConnectionPool } from '../connection/index.js';
import { loadDefinitions } from '../definitions/index.js';
import { messageOf } from '../errors.js';
import { buildInventory } from '../inventory/index.js';
import { modules } from '../../modules/index.js';
import { catalog, resolvePlaybook } from '../cli/play.js';
import { loadPlaybook } from '../playbook/load.js';
import { PlainReporter } from '../reporters/plain.js';
import { runPlaybook } from '../runner/runner.js';
import type { RunEvent } from '../runner/events.js';
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
  const firstError = new Map<string, string>();
  let lastError: string | undefined;
  const reporter = new PlainReporter((s) => r.write(s.replace(ANSI, '')));
  const emit = (e: RunEvent) => {
    if (e.event === 'host_result' && (e.status === 'failed' || e.status === 'unreachable') && !e.ignored) {
      const msg = `${e.task}: ${e.msg ?? e.status}`;
      if (!firstError.has(e.host)) firstError.set(e.host, msg);
      lastError = e.msg ?? msg;
    }
    if (e.event === 'recap') {
      for (const [host, s] of Object.entries(e.hosts)) {
        if (host === 'localhost') continue;
        // A server no task ran on (the run stopped before it got there) is not `ok`.
        const reached = s.ok + s.changed + s.failed + s.unreachable + s.rescued + s.ignored > 0;
        const status = s.unreachable ? 'unreachable' : s.failed ? 'failed' : s.changed ? 'changed' : reached ? 'ok' : 'not reached';
        servers[host] = { status, ...s, ...(firstError.has(host) ? { error: firstError.get(host) } : {}) };
      }
    }
    reporter.handle(e);
  };
  const pool = new ConnectionPool();
  try {
    // Definitions are read afresh for each deploy: a change to an app's file applies to its
    // next deploy without restarting the server.
    const defs = await loadDefinitions(r.defsDir);
    if (!defs.apps.has(r.app)) return { ok: false, error: `app '${r.app}' is no longer in the definitions`, servers };
    const pb = loadPlaybook(resolvePlaybook(r.kind), catalog, r.kind);
    const vars = r.kind === 'release' ? { sha: r.sha } : { from_sha: r.sha };
    const summary = await runPlaybook(pb, {
      inventory: buildInventory(defs), modules, catalog, connections: pool,
      extraVars: { app: r.app, ...vars, flight_run_id: r.runId, deployer: `flight-serve@${os.hostname()} (${r.who})` },
      check: false, diff: false, forks: defs.config.forks, verbosity: 0, emit,
    });
    await reporter.done();
    const bad = [...summary.failed, ...summary.unreachable];
    if (bad.length === 0) return { ok: true, servers };
    return { ok: false, error: lastError ?? `failed on ${bad.join(', ')}`, servers };
  } catch (err) {
    const error = messageOf(err);
    r.write(`error: ${error}`);
    return { ok: false, error, servers };
  } finally {
    await pool.closeAll().catch(() => undefined);
  }
};
