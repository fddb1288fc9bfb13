/**
 * Deploy ids name the request time to the millisecond, so names sort in request order (the
 * history lists newest first by name), plus a random part so ids cannot be guessed.
 */
import { kindError } from '../kinds.js';
import { randomBytes } from 'node:crypto';

const ID = /^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{6}$/;

/** Strictly increasing within the process, even for requests in the same millisecond. */
let last = 0;

export function newDeployId(now = new Date()): string {
  const ms = Math.max(now.getTime(), last + 1);
  last = ms;
  const stamp = new Date(ms).toISOString().replace(/[-:]/g, '');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Ids come from URLs and name files: only exactly this shape is ever looked up. */
export function isDeployId(s: string): boolean {
  return ID.test(s);
}

/** The sha of a request, lowercased, or why it is none: the `sha` kind, as `flight app:release` checks it. */
export function requestSha(value: unknown): { sha: string } | { error: string } {
  const sha = typeof value === 'string' ? value.toLowerCase() : value;
  const bad = kindError('sha', sha, 'sha');
  return bad ? { error: bad } : { sha: sha as string };
}

/** Two shas name the same commit when one abbreviates the other. */
export function sameCommit(a: string, b: string): boolean {
  return a.length <= b.length ? b.startsWith(a) : a.startsWith(b);
}
