/**
 * Who may do what on `flight serve`: bearer tokens (flight.yml's hashes, then the data dir's
 * token file) checked per app, and a client that keeps sending wrong credentials backed off
 * (backoff.ts). An unknown app and an app the token is not for answer alike to a caller without
 * a valid token, so app names cannot be probed.
 */
import type http from 'node:http';
import { APP_NAME_PATTERN } from '../definitions/schemas/common.js';
import type { Definitions } from '../definitions/index.js';
import { messageOf } from '../errors.js';
import type { AuthBackoff } from './backoff.js';
import { clientKey } from './client.js';
import { HttpError } from './http.js';
import { authorize, bearerToken, type TokenFile } from './tokens.js';

const APP = new RegExp(APP_NAME_PATTERN);

export class Gate {
  constructor(private readonly o: { tokens: TokenFile; backoff: AuthBackoff; defs: () => Definitions; say: (line: string) => void }) {}

  /**
   * The app a /apps/APP/... request names. Whether a name is an app is told (404) only to a
   * holder of some valid token; anyone else gets the 401 a known app would give, so app names
   * cannot be probed.
   */
  appOf(req: http.IncomingMessage, client: string, name: string): string {
    if (APP.test(name) && this.o.defs().apps.has(name)) return name;
    const token = bearerToken(req.headers.authorization);
    if (authorize([], token, this.tokenHashes().hashes) === 'other-app') throw new HttpError(404, 'unknown app');
    this.wrongCredential(client, token === undefined ? 'missing bearer token' : 'invalid token', { 'WWW-Authenticate': 'Bearer' });
  }

  /** `app` may be several token store keys, any of which will do (an app's deploy or signal token). */
  authenticate(req: http.IncomingMessage, client: string, app: string, ...also: string[]): void {
    const token = bearerToken(req.headers.authorization);
    const { hashes, unreadable } = this.tokenHashes();
    const result = authorize([app, ...also], token, hashes);
    if (result === 'ok') return;
    if (unreadable) throw new HttpError(500, 'token store unreadable');
    if (result === 'other-app') this.wrongCredential(client, `this token is not for ${app}`, {}, 403);
    this.wrongCredential(client, token === undefined ? 'missing bearer token' : 'invalid token', { 'WWW-Authenticate': 'Bearer' });
  }

  /**
   * A wrong token or signature: 429 while the client is backed off (backoff.ts), else `status`
   * (401 unless said) and one more failure counted. Right credentials never come here.
   */
  wrongCredential(client: string, message: string, headers: Record<string, string> = {}, status = 401): never {
    const key = clientKey(client);
    const wait = this.o.backoff.retryAfter(key);
    if (wait > 0) throw new HttpError(429, 'too many failed attempts; retry later', { 'Retry-After': String(Math.ceil(wait / 1000)) });
    this.o.backoff.failure(key);
    throw new HttpError(status, message, headers);
  }

  /**
   * flight.yml's token hashes, then the data dir's; `unreadable` when the token file cannot be
   * read (a hand edit gone wrong): flight.yml's tokens still work then.
   */
  private tokenHashes(): { hashes: Array<[string, string]>; unreadable: boolean } {
    const hashes = Object.entries(this.o.defs().config.serve.tokens);
    try {
      return { hashes: [...hashes, ...Object.entries(this.o.tokens.read())], unreadable: false };
    } catch (err) {
      this.o.say(`cannot read ${this.o.tokens.file}: ${messageOf(err)}`);
      return { hashes, unreadable: true };
    }
  }
}
