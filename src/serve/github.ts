/**
 * GitHub push webhooks: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with
 * the app's secret, checked in constant time before the body is parsed. A push to the app's
 * branch (of its repository, when known) deploys the pushed head commit.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!secret || !header || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const expected = Buffer.from(signBody(secret, body).slice(7), 'hex');
  const given = Buffer.from(header.slice(7).toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `owner/name` of a GitHub remote URL (ssh, https, git), or undefined for anything else. */
export function githubRepository(repoUrl: string): string | undefined {
  const m = /^(?:git@github\.com:|ssh:\/\/git@github\.com\/|https:\/\/github\.com\/|git:\/\/github\.com\/)([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(repoUrl);
  return m?.[1];
}

export type PushDecision = { deploy: true; sha: string } | { deploy: false; reason: string };

/** What a verified `push` event means for an app whose hook wants `branch` of `repository`. */
export function pushDecision(payload: unknown, branch: string, repository: string | undefined): PushDecision {
  if (!payload || typeof payload !== 'object') return { deploy: false, reason: 'not a push payload' };
  const p = payload as { ref?: unknown; after?: unknown; deleted?: unknown; head_commit?: { id?: unknown } | null; repository?: { full_name?: unknown } };
  if (repository !== undefined && String(p.repository?.full_name ?? '').toLowerCase() !== repository.toLowerCase()) {
    return { deploy: false, reason: `push to ${String(p.repository?.full_name ?? 'an unknown repository')}, not ${repository}` };
  }
  if (p.ref !== `refs/heads/${branch}`) return { deploy: false, reason: `push to ${String(p.ref)}, not refs/heads/${branch}` };
  if (p.deleted === true) return { deploy: false, reason: 'branch deleted' };
  const sha = typeof p.head_commit?.id === 'string' ? p.head_commit.id : typeof p.after === 'string' ? p.after : '';
  if (!/^[0-9a-f]{40}$/.test(sha) || /^0+$/.test(sha)) return { deploy: false, reason: 'no head commit' };
  return { deploy: true, sha };
}
