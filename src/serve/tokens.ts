/**
 * Deploy tokens. Only a token's sha256 is ever stored (DATA/tokens.json, and flight.yml's
 * serve.tokens); a request's token is hashed and compared with every known hash in constant
 * time, so neither the comparison nor the order of checks tells how close a guess was.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from './files.js';

/** 32 random bytes: guessing is hopeless, so the backoff only has to stop noise, not search. */
export function newToken(): string {
  return `flt_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Constant-time equality of two sha256 hex digests (false, still in constant time, for malformed input). */
export function sameHash(a: string, b: string): boolean {
  const okA = /^[0-9a-f]{64}$/.test(a);
  const okB = /^[0-9a-f]{64}$/.test(b);
  const eq = timingSafeEqual(Buffer.from(okA ? a : '0'.repeat(64), 'hex'), Buffer.from(okB ? b : '0'.repeat(64), 'hex'));
  return eq && okA && okB;
}

/**
 * The key of an app's signal token in the token store: monitoring holding it can report error
 * rates (and so trigger a rollback) but not deploy. No app name contains ':'.
 */
export const signalKey = (app: string): string => `signal:${app}`;

/** `Authorization: Bearer <token>` -> the token; undefined for anything else. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length > 512) return undefined;
  const m = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i.exec(header);
  return m?.[1];
}

export type AuthResult = 'ok' | 'missing' | 'wrong' | 'other-app';

/**
 * Which app a token belongs to, checked against every app's hashes (not only the one asked for),
 * so a token of another app is told apart from a wrong one: 403, not 401.
 */
export function authorize(accept: string | readonly string[], token: string | undefined, hashes: ReadonlyArray<readonly [app: string, hash: string]>): AuthResult {
  if (token === undefined) return 'missing';
  const accepted = typeof accept === 'string' ? [accept] : accept;
  const h = hashToken(token);
  let mine = false;
  let other = false;
  // Every hash is compared, whatever matched earlier: the time taken does not depend on which.
  for (const [a, stored] of hashes) {
    const eq = sameHash(h, stored);
    if (accepted.includes(a)) mine = eq || mine;
    else other = eq || other;
  }
  return mine ? 'ok' : other ? 'other-app' : 'wrong';
}

/**
 * DATA/tokens.json: {"app": "<sha256 hex>"}, mode 0600. Re-read when its mtime changes, so
 * `flight token:create` on the deploy box takes effect without restarting the server.
 */
export class TokenFile {
  private cache: Record<string, string> = {};
  private stamp = '';

  constructor(readonly file: string) {}

  static in(dataDir: string): TokenFile {
    return new TokenFile(path.join(dataDir, 'tokens.json'));
  }

  read(): Record<string, string> {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.file);
    } catch {
      this.cache = {};
      this.stamp = '';
      return this.cache;
    }
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (stamp !== this.stamp) {
      const parsed = parseQuietly(this.file, fs.readFileSync(this.file, 'utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${this.file}: expected a JSON object of app -> sha256`);
      const clean: Record<string, string> = {};
      for (const [app, h] of Object.entries(parsed)) if (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h)) clean[app] = h;
      this.cache = clean;
      this.stamp = stamp;
    }
    return this.cache;
  }

  set(app: string, hash: string | undefined): void {
    const next = { ...this.readFresh() };
    if (hash === undefined) delete next[app];
    else next[app] = hash;
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.file, JSON.stringify(next, null, 2) + '\n', 0o600);
    this.stamp = '';
  }

  private readFresh(): Record<string, string> {
    this.stamp = '';
    return this.read();
  }
}

/**
 * JSON.parse, with an error that quotes nothing of the file: node's own message shows the text
 * around the fault, which in this file may be part of a token a person pasted in by mistake.
 */
function parseQuietly(file: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`${file}: not valid JSON (fix it by hand, or remove it and create the tokens again)`);
  }
}
