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
  /** The server's outcome for the whole run; `not reached`: the run stopped before any task ran there. */
  status: 'ok' | 'changed' | 'failed' | 'unreachable' | 'not reached';
  /** The first failure on this server: task and message. */
  error?: string;
}

/**
 * A release of a commit (what CI asks for), or the automatic rollback of one (an error-rate
 * signal asked for it). Both take the app's turn in the queue and its deploy lock.
 */
export type DeployKind = 'release' | 'rollback';

export interface DeployRecord {
  id: string;
  app: string;
  kind: DeployKind;
  /** Full or abbreviated commit sha, lowercase, as requested; for a rollback, the commit rolled back. */
  sha: string;
  state: DeployState;
  /** `api` (a token), `github` (a verified webhook) or `signal` (an automatic rollback). */
  source: 'api' | 'github' | 'signal';
  /** A release of a commit that was rolled back before, asked for anyway. */
  force?: true;
  /** On a release that a signal rolled back: the rollback's id, when, and why. */
  rollback?: { id: string; at: string; reason: string };
  /** On a rollback: the release it undoes, and why. */
  rollback_of?: string;
  reason?: string;
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
