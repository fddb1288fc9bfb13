/**
 * Talking HTTP to a `flight serve` under test: plain node:http with no agent (every request its
 * own connection unless asked), loopback only.
 */
import http from 'node:http';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

export interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
  /** A string/Buffer body, or an object sent as JSON. */
  body?: string | Buffer | object;
  /** Send the body with chunked transfer encoding (no Content-Length). */
  chunked?: boolean;
  timeoutMs?: number;
  /** The client's own address (a 127.x.y.z): a different client for the server's per-client limits. */
  from?: string;
}

export function call(base: string, method: string, urlPath: string, o: CallOptions = {}): Promise<Reply> {
  const url = new URL(urlPath, base);
  if (!url.hostname.startsWith('127.')) return Promise.reject(new Error(`refusing to send a request to ${url.hostname}: tests stay on 127.0.0.0/8`));
  const body = o.body === undefined ? undefined : typeof o.body === 'string' || Buffer.isBuffer(o.body) ? Buffer.from(o.body) : Buffer.from(JSON.stringify(o.body));
  const headers: Record<string, string> = { Connection: 'close', ...o.headers };
  if (o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
  if (body && !o.chunked) headers['Content-Length'] = String(body.length);
  if (body && o.body !== undefined && typeof o.body === 'object' && !Buffer.isBuffer(o.body)) headers['Content-Type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, agent: false, ...(o.from ? { localAddress: o.from } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (b: Buffer) => chunks.push(b));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${urlPath} timed out`)));
    // A server may answer (413) and close before the whole body is sent: that answer counts.
    req.on('error', reject);
    if (body && o.chunked) {
      for (let i = 0; i < body.length; i += 16 * 1024) req.write(body.subarray(i, i + 16 * 1024));
      req.end();
    } else req.end(body);
  });
}
