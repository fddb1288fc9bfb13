/**
 * Talking HTTP to a `flight serve` under test: plain node:http with no agent (every request its
 * own connection unless asked), loopback only.
 */
import http from 'node:http';
import net from 'node:net';

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

/** A raw TCP connection to the server from `from` (a 127.x.y.z), sending `data` if given: for what a misbehaving client does. */
export function openSocket(base: string, from?: string, data?: string): Promise<net.Socket> {
  const u = new URL(base);
  if (!u.hostname.startsWith('127.')) return Promise.reject(new Error(`refusing to connect to ${u.hostname}: tests stay on 127.0.0.0/8`));
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: u.hostname, port: Number(u.port), ...(from ? { localAddress: from } : {}) }, () => {
      if (data !== undefined) sock.write(data);
      resolve(sock);
    });
    sock.on('error', () => undefined);
    sock.once('error', reject);
  });
}

/** What the server wrote to a socket until it closed it (or `ms` passed), and after how long. */
export function untilClosed(sock: net.Socket, ms: number): Promise<{ text: string; closed: boolean; after: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    let text = '';
    sock.on('data', (b: Buffer) => (text += b.toString('utf8')));
    const timer = setTimeout(() => resolve({ text, closed: false, after: Date.now() - t0 }), ms);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true, after: Date.now() - t0 });
    });
  });
}

/** Bytes that are not (quite) HTTP, and the server's answer as a Reply (status 0 when there was none). */
export async function rawRequest(base: string, data: string, from?: string): Promise<Reply> {
  const { text } = await untilClosed(await openSocket(base, from, data), 15_000);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status, headers: {}, text: body, json };
}
