/** How a deploy is shown to API callers: its record with the URLs of its status and log. */
import type { DeployRecord } from './types.js';

export function deployUrls(rec: DeployRecord): { status: string; log: string } {
  const status = `/apps/${rec.app}/deploys/${rec.id}`;
  return { status, log: `${status}/log` };
}

export function deployView(rec: DeployRecord): DeployRecord & { urls: { status: string; log: string } } {
  return { ...rec, urls: deployUrls(rec) };
}

/** ?wait=1 answers: 200 when the commit is live (or a newer request replaced this one), else a failure status. */
export function statusFor(rec: DeployRecord): number {
  switch (rec.state) {
    case 'succeeded': case 'superseded': return 200;
    case 'failed': return 502;
    default: return 503; // cancelled, interrupted: the server stopped
  }
}
