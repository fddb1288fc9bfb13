/**
 * HTTP to the lab's nginx, as a visitor's browser would send it: the vhost chosen by the Host
 * header, the stand-in app's page read as fields, a cookie jar so a session follows a visitor
 * across servers, and polling until a server serves what is expected. Loopback addresses only.
 */
import http from 'node:http';

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * GET http://ADDRESS:PORT/PATH with the given Host header (nginx picks the vhost by it). fetch()
 * cannot set Host, so this is node:http. Only loopback addresses are allowed.
 */
export function httpGet(address: string, host: string, urlPath = '/', opts: { port?: number; timeoutMs?: number; cookie?: string } = {}): Promise<HttpResponse> {
  if (!address.startsWith('127.')) return Promise.reject(new Error(`refusing to send a request to ${address}: tests stay on 127.0.0.0/8`));
  const headers: Record<string, string> = { Host: host, Connection: 'close', ...(opts.cookie ? { Cookie: opts.cookie } : {}) };
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: address, port: opts.port ?? 80, path: urlPath, method: 'GET', headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (b: Buffer) => chunks.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`GET http://${address}${urlPath} (Host: ${host}) timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The fixture page's `key: value` lines as a record (sha, marker, version, greeting, user, ...). */
export function parsePage(body: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of body.split('\n')) {
    const m = /^([a-z_]+): ?(.*)$/.exec(line);
    if (m) fields[m[1]!] = m[2]!;
  }
  return fields;
}

/** The fixture page of DOMAIN as served by nginx at ADDRESS; throws on a status other than 200. */
export async function fetchPage(address: string, domain: string, urlPath = '/'): Promise<Record<string, string>> {
  const res = await httpGet(address, domain, urlPath);
  if (res.status !== 200) throw new Error(`GET http://${address}${urlPath} (Host: ${domain}): ${res.status}\n${res.body.slice(0, 500)}`);
  return parsePage(res.body);
}

/**
 * A visitor of DOMAIN with a cookie jar: each page it asks for (of any web server) carries the
 * cookies the last answers set, as a browser's would, so a session follows it across servers.
 */
export function visitor(domain: string): { page(address: string, urlPath?: string): Promise<Record<string, string>> } {
  const jar = new Map<string, string>();
  return {
    async page(address, urlPath = '/') {
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await httpGet(address, domain, urlPath, { cookie: cookie || undefined });
      if (res.status !== 200) throw new Error(`GET http://${address}${urlPath} (Host: ${domain}): ${res.status}\n${res.body.slice(0, 500)}`);
      for (const line of [res.headers['set-cookie'] ?? []].flat()) {
        const [pair] = line.split(';');
        const eq = pair!.indexOf('=');
        if (eq > 0) jar.set(pair!.slice(0, eq).trim(), pair!.slice(eq + 1).trim());
      }
      return parsePage(res.body);
    },
  };
}

/** Poll until `probe` returns a value (not undefined) or the time is up; returns the last value or undefined. */
export async function waitFor<T>(probe: () => Promise<T | undefined>, opts: { timeoutMs: number; intervalMs?: number }): Promise<T | undefined> {
  const end = Date.now() + opts.timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= end) return undefined;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000));
  }
}
