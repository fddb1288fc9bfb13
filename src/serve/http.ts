/** HTTP plumbing: short JSON answers, a bounded body reader, and the errors routes throw. */
import type http from 'node:http';

export const MAX_BODY = 64 * 1024;

export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body) + '\n';
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

/**
 * The request body, at most `limit` bytes. A declared Content-Length over the limit is refused
 * before a byte is read; a chunked body is counted as it comes and refused on the byte that
 * crosses the limit. Either way the connection is closed afterwards rather than drained, so an
 * oversized body costs the server nothing further.
 */
export async function readBody(req: http.IncomingMessage, limit = MAX_BODY): Promise<Buffer> {
  refuseDeclaredOversize(req, limit);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks, size));
    };
    const onData = (b: Buffer) => {
      size += b.length;
      if (size > limit) {
        chunks.length = 0;
        req.pause();
        finish(tooLarge(limit));
        return;
      }
      chunks.push(b);
    };
    const onEnd = () => finish();
    const onError = (e: Error) => finish(new HttpError(400, `request body: ${e.message}`));
    const onAborted = () => finish(new HttpError(400, 'request aborted'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

function tooLarge(limit: number, what = 'request body'): HttpError {
  return new HttpError(413, `${what} over ${limit / 1024} KiB`, { Connection: 'close' });
}

/**
 * A declared Content-Length over the limit is refused before anything else is looked at (even
 * the token): routes call this first, readBody again.
 */
export function refuseDeclaredOversize(req: http.IncomingMessage, limit = MAX_BODY, what?: string): void {
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge(limit, what);
}

/** A JSON object body; anything else is a 400 that says only what was wrong with it. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** A request path for the access log: no query, bounded, no control characters. */
export function loggablePath(url: string | undefined): string {
  const p = (url ?? '').split('?')[0]!;
  // eslint-disable-next-line no-control-regex
  const clean = p.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length > 120 ? `${clean.slice(0, 120)}...` : clean;
}

/** One request header's value (the first, when repeated). */
export function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
