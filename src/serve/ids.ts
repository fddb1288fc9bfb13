/** Deploy ids: sortable by time (the history lists newest first by name) and unique enough. */
import { randomBytes } from 'node:crypto';

const ID = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;

export function newDeployId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Ids come from URLs and name files: only exactly this shape is ever looked up. */
export function isDeployId(s: string): boolean {
  return ID.test(s);
}

/** What a commit sha must look like; same rule as `flight app:release`. */
export const SHA = /^[0-9a-f]{4,40}$/;
