/**
 * GitHub webhook deliveries already taken, by their X-GitHub-Delivery id, kept in
 * DATA/github-deliveries.json so that a redelivery, or a captured delivery sent again, starts
 * nothing, also after a restart. The newest `max` ids are kept, none older than `maxAgeMs`.
 * (The header is not signed: a replay under a fresh id is stopped by the commit check instead,
 * see server.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './files.js';

/** GitHub's delivery ids are GUIDs; anything else is not remembered (and not trusted). */
const DELIVERY_ID = /^[0-9A-Za-z-]{8,64}$/;

export class DeliveryLog {
  private seenAt = new Map<string, number>();

  constructor(readonly file: string, private max = 5000, private maxAgeMs = 30 * 24 * 3600_000, private now = Date.now) {
    try {
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        for (const [id, at] of Object.entries(parsed)) if (DELIVERY_ID.test(id) && typeof at === 'number') this.seenAt.set(id, at);
      }
    } catch {
      // Missing (first start) or unreadable: start empty; the commit check still holds.
    }
  }

  static in(dataDir: string): DeliveryLog {
    return new DeliveryLog(path.join(dataDir, 'github-deliveries.json'));
  }

  /** Whether this id was taken before (a well-formed id only). */
  seen(id: string | undefined): boolean {
    return id !== undefined && DELIVERY_ID.test(id) && this.seenAt.has(id);
  }

  /** Remember a delivery taken now, durably. */
  record(id: string | undefined): void {
    if (id === undefined || !DELIVERY_ID.test(id)) return;
    const now = this.now();
    this.seenAt.set(id, now);
    for (const [old, at] of this.seenAt) {
      if (this.seenAt.size <= this.max && now - at <= this.maxAgeMs) break;
      this.seenAt.delete(old);
    }
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.seenAt)) + '\n', 0o600);
  }
}
