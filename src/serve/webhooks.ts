/**
 * GitHub push webhooks (POST /github, /github/APP): configured per app in flight.yml, verified by
 * signature (github.ts), deduplicated and checked against what the app has released, then queued
 * like an API request. See docs/serve.md, "GitHub webhooks".
 */
import fs from 'node:fs';
import type http from 'node:http';
import type { Definitions, GithubHook } from '../definitions/index.js';
import { ancestry } from './commits.js';
import type { DeliveryLog } from './deliveries.js';
import { githubRepository, pushDecision, verifySignature } from './github.js';
import { header, HttpError, parseJsonObject, readBody, refuseDeclaredOversize, sendJson } from './http.js';
import { sameCommit } from './ids.js';
import type { ConnectionLimits } from './limits.js';
import type { DeployService } from './service.js';
import { rolledBackLine, type HistoryStore } from './store.js';
import type { DeployRecord } from './types.js';

/**
 * GitHub's push payloads list every commit and file touched and can exceed the API's 64 KiB, so
 * webhook bodies may be larger; memory is bounded by how many are read at once (limits.ts).
 */
export const MAX_WEBHOOK_BODY = 1024 * 1024;

interface Hook {
  app: string;
  secret: string;
  branch: string;
  repository?: string;
}

export interface WebhookDeps {
  deliveries: DeliveryLog;
  limits: ConnectionLimits;
  store: HistoryStore;
  service: DeployService;
  /** Where the releases keep their git mirrors (default ~/.cache/flight). */
  cacheDir?: string;
  /** The server's answer to a wrong credential (401, or 429 while backed off); never returns. */
  wrongCredential: (client: string, message: string) => never;
  view: (rec: DeployRecord) => unknown;
  draining: () => boolean;
}

export class GithubWebhooks {
  private hooks: Hook[] = [];
  /** Each hooked app's repository, for the commit check. */
  private repos = new Map<string, string>();

  constructor(private o: WebhookDeps) {}

  /** Read the hooks (and their secrets) from the definitions; throws, naming the key, when one is wrong. */
  configure(defs: Definitions): void {
    const hooks: Hook[] = [];
    const repos = new Map<string, string>();
    for (const [app, h] of Object.entries(defs.config.serve.github)) {
      const a = defs.apps.get(app);
      if (!a) throw new Error(`flight.yml serve.github.${app}: no app '${app}' in the definitions`);
      hooks.push({ app, secret: readSecret(app, h), branch: h.branch ?? a.branch ?? 'main', repository: h.repository ?? githubRepository(a.repo) });
      repos.set(app, a.repo);
    }
    this.hooks = hooks;
    this.repos = repos;
  }

  /**
   * A GitHub webhook delivery. Only a signed one counts; it starts a release only for a push of
   * a commit the app has not released yet: a delivery already taken (X-GitHub-Delivery), a
   * commit queued or running, or one that is the last release or behind it (a replayed old
   * push) starts nothing and is answered 200 with why. Bodies are read a few at a time per
   * client (limits.ts), so slow senders cannot hold every slot.
   */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, client: string, only: string | undefined): Promise<void> {
    const hooks = only === undefined ? this.hooks : this.hooks.filter((h) => h.app === only);
    if (only !== undefined && hooks.length === 0) throw new HttpError(404, 'no webhook here');
    refuseDeclaredOversize(req, MAX_WEBHOOK_BODY, 'webhook body');
    const release = this.o.limits.takeBodySlot(client);
    if (!release) throw new HttpError(503, 'busy; retry the delivery', { Connection: 'close', 'Retry-After': '5' });
    let body: Buffer;
    try {
      body = await readBody(req, MAX_WEBHOOK_BODY);
    } finally {
      release();
    }
    const sig = header(req, 'x-hub-signature-256');
    // Every hook's secret is tried (one webhook URL can serve several apps); the body is parsed
    // only once a signature matched.
    const matched = hooks.filter((h) => verifySignature(h.secret, body, sig));
    if (matched.length === 0) this.o.wrongCredential(client, sig ? 'signature does not match' : 'missing X-Hub-Signature-256');
    const delivery = header(req, 'x-github-delivery');
    if (this.o.deliveries.seen(delivery)) return sendJson(res, 200, { deploys: [], ignored: { delivery: `delivery ${delivery} was received before` } });
    const event = header(req, 'x-github-event') ?? '';
    if (event === 'ping') {
      this.o.deliveries.record(delivery);
      return sendJson(res, 200, { ok: true, apps: matched.map((h) => h.app) });
    }
    if (event !== 'push') {
      this.o.deliveries.record(delivery);
      return sendJson(res, 200, { deploys: [], ignored: { event: `event ${event.slice(0, 40)} is not a push` } });
    }
    const text = (header(req, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')
      ? new URLSearchParams(body.toString('utf8')).get('payload') ?? ''
      : body.toString('utf8');
    const payload = parseJsonObject(Buffer.from(text, 'utf8'));
    const deploys: unknown[] = [];
    const ignored: Record<string, string> = {};
    for (const h of matched) {
      const d = pushDecision(payload, h.branch, h.repository);
      const why = d.deploy ? await this.pushRefusal(h.app, d.sha) : d.reason;
      if (why) ignored[h.app] = why;
      else if (this.o.draining()) ignored[h.app] = 'the deploy server is stopping';
      else deploys.push(this.o.view(this.o.service.request(h.app, (d as { sha: string }).sha, 'github')));
    }
    this.o.deliveries.record(delivery);
    sendJson(res, deploys.length ? 202 : 200, { deploys, ignored });
  }

  /** Why a signed push of `sha` must not start a release of `app`, or undefined. */
  private async pushRefusal(app: string, sha: string): Promise<string | undefined> {
    const bad = this.o.store.rolledBack(app, sha);
    if (bad) return `${rolledBackLine(bad)}; deploy it through the API with "force": true if it must go out`;
    // The history keeps the newest 200 deploys of an app: a waiting or running one is among them.
    const recent = this.o.store.list(app, 200).filter((r) => sameCommit(r.sha, sha));
    const pending = recent.find((r) => r.state === 'queued' || r.state === 'running');
    if (pending) return `${sha.slice(0, 12)} is already ${pending.state} (deploy ${pending.id})`;
    const last = this.o.store.lastRelease(app);
    if (last && (sameCommit(last.sha, sha) || (await ancestry(this.repos.get(app)!, sha, last.sha, this.o.cacheDir)) === 'behind')) {
      return `${sha.slice(0, 12)} is the last release (${last.id}) or older than it: a replayed or out-of-order push; release it through the API if it must go out`;
    }
    // The mirror may be gone (pruned after months unused) or not know the commit: a commit this
    // server released before is old news all the same.
    const before = recent.find((r) => r.kind === 'release' && r.state === 'succeeded');
    if (before) return `${sha.slice(0, 12)} was released before (${before.id}): a replayed or out-of-order push; release it through the API if it must go out`;
    return undefined;
  }
}

function readSecret(app: string, h: GithubHook): string {
  if ((h.secret_env === undefined) === (h.secret_file === undefined)) {
    throw new Error(`flight.yml serve.github.${app}: set exactly one of secret_env and secret_file`);
  }
  const secret = h.secret_env !== undefined ? process.env[h.secret_env] : fs.readFileSync(h.secret_file!, 'utf8').trim();
  if (!secret) throw new Error(`flight.yml serve.github.${app}: the webhook secret (${h.secret_env ? `environment variable ${h.secret_env}` : h.secret_file}) is empty or unset`);
  return secret;
}
