/** What the deploy server records about each deploy: the JSON of `GET /apps/:app/deploys/:id`. */
import type { HostStats } from '../runner/events.js';

/**
 * queued -> running -> succeeded | failed; queued -> superseded (a newer request for the app
 * took its place) | cancelled (the server stopped first); running -> interrupted (the server
 * died, or stopped before it ended).
 */
export type DeployState = 'queued' | 'running' | 'succeeded' | 'failed' | 'superseded' | 'cancelled' | 'interrupted';

export const FINAL_STATES: ReadonlySet<DeployState> = new Set(['succeeded', 'failed', 'superseded', 'cancelled', 'interrupted']);

export interface ServerResult extends HostStats {
  /** ok | changed | failed | unreachable: the server's outcome for the whole run. */
  status: 'ok' | 'changed' | 'failed' | 'unreachable';
  /** The first failure on this server: task and message. */
  error?: string;
}

export interface DeployRecord {
  id: string;
  app: string;
  /** Full or abbreviated commit sha, lowercase, as requested. */
  sha: string;
  state: DeployState;
  /** `api` (a token) or `github` (a verified webhook). */
  source: 'api' | 'github';
  requested_at: string;
  started_at?: string;
  finished_at?: string;
  /** The run id the release playbook used for the deploy lock (see docs/serve.md, locks). */
  run_id?: string;
  /** Set when this deploy took over the lock of an interrupted deploy (its id). */
  took_over?: string;
  superseded_by?: string;
  /** Why it failed, was cancelled or interrupted: one line. */
  error?: string;
  /** Per server, once the run has a recap. */
  servers?: Record<string, ServerResult>;
}
