/**
 * Automatic rollback (docs/serve.md): monitoring posts an app's error rate; if it passes the
 * app's threshold within the window after its last release, that release is rolled back.
 * Pure: what a signal says, and what to do about it given the history and the time.
 */
import type { AutoRollback } from '../definitions/index.js';
import { HttpError } from './http.js';
import { requestSha, sameCommit } from './ids.js';
import type { DeployRecord } from './types.js';

export interface Signal {
  /** Fraction of failing requests, 0 to 1. */
  error_rate: number;
  /** How many requests the rate covers, when monitoring says. */
  requests?: number;
  /** The commit monitoring saw failing, when it knows: a signal about another commit is not acted on. */
  sha?: string;
}

const FIELDS = new Set(['error_rate', 'errors', 'requests', 'sha']);

/**
 * `{"error_rate": 0.12}` or `{"errors": 30, "requests": 250}`, optionally with `requests` and
 * `sha`. Anything else is a 422 naming the field.
 */
export function parseSignal(body: Record<string, unknown>): Signal {
  const unknown = Object.keys(body).find((k) => !FIELDS.has(k));
  if (unknown !== undefined) throw new HttpError(422, `unknown field: ${unknown.slice(0, 40)}`);
  const count = (k: 'errors' | 'requests'): number | undefined => {
    const v = body[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new HttpError(422, `${k} must be a whole number >= 0`);
    return v;
  };
  const errors = count('errors');
  const requests = count('requests');
  let rate: number;
  if (body.error_rate !== undefined) {
    if (errors !== undefined) throw new HttpError(422, 'give error_rate or errors with requests, not both');
    if (typeof body.error_rate !== 'number' || !(body.error_rate >= 0 && body.error_rate <= 1)) throw new HttpError(422, 'error_rate must be a number from 0 to 1 (0.05 for 5%)');
    rate = body.error_rate;
  } else {
    if (errors === undefined || requests === undefined) throw new HttpError(422, 'error_rate (0 to 1), or errors and requests, are required');
    if (errors > requests) throw new HttpError(422, 'errors cannot exceed requests');
    rate = requests === 0 ? 0 : errors / requests;
  }
  let sha: string | undefined;
  if (body.sha !== undefined) {
    const given = requestSha(body.sha);
    if ('error' in given) throw new HttpError(422, given.error);
    sha = given.sha;
  }
  return { error_rate: rate, ...(requests !== undefined ? { requests } : {}), ...(sha ? { sha } : {}) };
}

export interface SignalContext {
  policy: AutoRollback;
  signal: Signal;
  /** The app's newest successful release made by this deploy server. */
  last: DeployRecord | undefined;
  /** A deploy or rollback of the app that is running or waiting. */
  busy: DeployRecord | undefined;
  now: number;
}

export type SignalDecision = { rollback: true; of: DeployRecord; reason: string } | { rollback: false; reason: string };

const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

/** Roll back only the release the signal can be about, and only once. */
export function decideSignal(c: SignalContext): SignalDecision {
  const none = (reason: string): SignalDecision => ({ rollback: false, reason });
  const { policy, signal, last, busy } = c;
  if (busy) return none(`${busy.kind} ${busy.id} is ${busy.state}: a signal is acted on only once the app's release has ended`);
  if (!last) return none('this deploy server has made no successful release of the app to roll back');
  if (last.rollback) return none(`release ${last.id} (${last.sha}) was already rolled back by ${last.rollback.id}`);
  if (signal.sha && !sameCommit(signal.sha, last.sha)) return none(`the signal is about ${signal.sha}; the last release is ${last.sha}`);
  const age = Math.round((c.now - Date.parse(last.finished_at ?? '')) / 1000);
  if (!(age <= policy.window)) return none(`release ${last.id} (${last.sha}) ended ${age} s ago, outside the ${policy.window} s window`);
  if (policy.min_requests > 0 && (signal.requests ?? 0) < policy.min_requests) {
    return none(`the signal covers ${signal.requests ?? 'an unknown number of'} requests, fewer than the ${policy.min_requests} required`);
  }
  const over = `error rate ${pct(signal.error_rate)}${signal.requests !== undefined ? ` over ${signal.requests} requests` : ''}`;
  if (signal.error_rate <= policy.error_rate) return none(`${over} is within the ${pct(policy.error_rate)} threshold`);
  return { rollback: true, of: last, reason: `${over} passed the ${pct(policy.error_rate)} threshold ${Math.max(0, age)} s after release ${last.id} (${last.sha})` };
}
