/**
 * Durable deploy history in the data dir: DATA/deploys/<app>/<id>.json (one file per deploy,
 * rewritten atomically on every state change) beside <id>.log (the run's output). Everything is
 * also kept in memory for answering requests; the files are what survives a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './files.js';
import { isDeployId, sameCommit } from './ids.js';
import type { DeployRecord } from './types.js';

export class HistoryStore {
  private byApp = new Map<string, Map<string, DeployRecord>>();

  constructor(readonly dir: string, private keep = 200) {}

  /**
   * Read every record. Deploys that were running when the server stopped are marked
   * interrupted, and those still waiting cancelled: nothing is running now, whatever the files
   * said. Returns the records that were changed that way.
   */
  load(now = new Date()): DeployRecord[] {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    const changed: DeployRecord[] = [];
    for (const app of fs.readdirSync(this.root)) {
      const appDir = path.join(this.root, app);
      if (!fs.statSync(appDir).isDirectory()) continue;
      for (const f of fs.readdirSync(appDir)) {
        if (!f.endsWith('.json') || !isDeployId(f.slice(0, -5))) continue;
        let rec: DeployRecord;
        try {
          rec = JSON.parse(fs.readFileSync(path.join(appDir, f), 'utf8')) as DeployRecord;
        } catch {
          continue; // an unreadable record is skipped, not fatal: atomic writes make it unlikely
        }
        if (rec.app !== app || rec.id !== f.slice(0, -5)) continue;
        rec.kind ??= 'release';
        if (rec.state === 'running') {
          rec.state = 'interrupted';
          rec.finished_at = now.toISOString();
          rec.error = 'the deploy server stopped while this deploy ran';
          changed.push(rec);
        } else if (rec.state === 'queued') {
          rec.state = 'cancelled';
          rec.finished_at = now.toISOString();
          rec.error = 'the deploy server stopped before this deploy started';
          changed.push(rec);
        }
        this.mapOf(app).set(rec.id, rec);
      }
    }
    for (const rec of changed) this.save(rec);
    for (const app of this.byApp.keys()) this.prune(app);
    return changed;
  }

  get root(): string {
    return path.join(this.dir, 'deploys');
  }

  logFile(app: string, id: string): string {
    return path.join(this.root, app, `${id}.log`);
  }

  get(app: string, id: string): DeployRecord | undefined {
    return this.byApp.get(app)?.get(id);
  }

  /** Newest first. */
  list(app: string, limit = 20): DeployRecord[] {
    return [...(this.byApp.get(app)?.values() ?? [])].sort((a, b) => (a.id < b.id ? 1 : -1)).slice(0, limit);
  }

  save(rec: DeployRecord): void {
    const dir = path.join(this.root, rec.app);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(path.join(dir, `${rec.id}.json`), JSON.stringify(rec, null, 2) + '\n', 0o600);
    this.mapOf(rec.app).set(rec.id, rec);
  }

  /**
   * The interrupted deploy whose lock the app's next deploy may take over, found from the deploy
   * that started last: when it was interrupted, its run; when it took over such a run and did
   * not succeed (it failed before it reached the lock, or was interrupted itself), the same run
   * again. Taking over is never used up by a deploy that did not get as far as the lock; it ends
   * with the first deploy under that run that succeeds (the release released the lock).
   */
  staleRun(app: string): { id: string; run_id: string } | undefined {
    let last: DeployRecord | undefined;
    for (const r of this.byApp.get(app)?.values() ?? []) {
      if (r.started_at && (!last || r.started_at > last.started_at! || (r.started_at === last.started_at && r.id > last.id))) last = r;
    }
    if (!last?.run_id || last.state === 'succeeded') return undefined;
    if (last.took_over) return { id: last.took_over, run_id: last.run_id };
    return last.state === 'interrupted' ? { id: last.id, run_id: last.run_id } : undefined;
  }

  /** The app's newest successful release: the one an error-rate signal can be about. */
  lastRelease(app: string): DeployRecord | undefined {
    let last: DeployRecord | undefined;
    for (const r of this.byApp.get(app)?.values() ?? []) {
      if (r.kind === 'release' && r.state === 'succeeded' && r.finished_at && (!last || r.finished_at > last.finished_at!)) last = r;
    }
    return last;
  }

  /** The newest release of this commit that a signal rolled back, if any: it is not deployed again unless forced. */
  rolledBack(app: string, sha: string): DeployRecord | undefined {
    let found: DeployRecord | undefined;
    for (const r of this.byApp.get(app)?.values() ?? []) {
      if (r.kind === 'release' && r.rollback && sameCommit(r.sha, sha) && (!found || r.id > found.id)) found = r;
    }
    return found;
  }

  /** Keep the newest `keep` finished deploys of an app (and their logs). */
  prune(app: string): void {
    const m = this.byApp.get(app);
    if (!m || m.size <= this.keep) return;
    const ids = [...m.keys()].sort();
    for (const id of ids.slice(0, ids.length - this.keep)) {
      const r = m.get(id)!;
      if (r.state === 'running' || r.state === 'queued') continue;
      // Never drop the record the lock rule depends on, nor one that keeps a bad commit out.
      if (this.staleRun(app)?.id === id || r.rollback) continue;
      m.delete(id);
      fs.rmSync(path.join(this.root, app, `${id}.json`), { force: true });
      fs.rmSync(this.logFile(app, id), { force: true });
    }
  }

  private mapOf(app: string): Map<string, DeployRecord> {
    let m = this.byApp.get(app);
    if (!m) this.byApp.set(app, (m = new Map()));
    return m;
  }
}

/** Why a commit is refused after an automatic rollback, in one line. */
export function rolledBackLine(rec: DeployRecord): string {
  return `${rec.sha} was rolled back automatically at ${rec.rollback!.at} (${rec.rollback!.reason})`;
}
