/**
 * FastCGI, as far as Flight needs it to ask a PHP-FPM pool to run one script: encode one
 * responder request (BEGIN_REQUEST, PARAMS, STDIN) and decode what the pool answers (STDOUT,
 * STDERR, END_REQUEST), then split the CGI headers from the body.
 *
 * The bytes are built here, on the control machine, so the part that runs on the server is a
 * byte relay between the SSH channel and the pool's unix socket (see fpm-pool.ts): nothing of
 * the protocol has to exist on the server, and this file is pure and unit-tested.
 *
 * Spec: the FastCGI 1.0 specification (Open Market, 1996), sections 3 (records), 3.4
 * (name-value pairs), 5 (application roles) and 8 (types and constants).
 */

export const FCGI_VERSION_1 = 1;

export const FCGI = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;

export const FCGI_RESPONDER = 1;

/** protocolStatus of END_REQUEST. */
export const FCGI_PROTOCOL_STATUS = ['REQUEST_COMPLETE', 'CANT_MPX_CONN', 'OVERLOADED', 'UNKNOWN_ROLE'] as const;

const HEADER_LEN = 8;
/** contentLength is 16 bits. */
export const MAX_CONTENT = 0xffff;

export interface FcgiRecord {
  type: number;
  requestId: number;
  content: Buffer;
}

/**
 * One record: the 8-byte header, the content, and padding to a multiple of 8 bytes (the spec
 * recommends aligned records; servers accept either).
 */
export function encodeRecord(type: number, requestId: number, content: Buffer = Buffer.alloc(0)): Buffer {
  if (content.length > MAX_CONTENT) throw new RangeError(`FastCGI record content of ${content.length} bytes (at most ${MAX_CONTENT})`);
  if (requestId < 0 || requestId > 0xffff) throw new RangeError(`FastCGI request id ${requestId}`);
  const padding = (8 - (content.length % 8)) % 8;
  const header = Buffer.alloc(HEADER_LEN);
  header.writeUInt8(FCGI_VERSION_1, 0);
  header.writeUInt8(type, 1);
  header.writeUInt16BE(requestId, 2);
  header.writeUInt16BE(content.length, 4);
  header.writeUInt8(padding, 6);
  // byte 7: reserved
  return Buffer.concat([header, content, Buffer.alloc(padding)]);
}

/** A stream (PARAMS, STDIN): the data cut into records, then the empty record that ends it. */
export function encodeStream(type: number, requestId: number, data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_CONTENT) parts.push(encodeRecord(type, requestId, data.subarray(at, at + MAX_CONTENT)));
  parts.push(encodeRecord(type, requestId));
  return Buffer.concat(parts);
}

/** A length as the spec writes it: one byte below 128, else four bytes with the top bit set. */
function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n > 0x7fffffff) throw new RangeError(`FastCGI name or value of ${n} bytes`);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((n | 0x80000000) >>> 0, 0);
  return b;
}

/** Name-value pairs (section 3.4), in the order given. */
export function encodeNameValuePairs(pairs: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(pairs)) {
    const n = Buffer.from(name, 'utf8');
    const v = Buffer.from(value, 'utf8');
    parts.push(encodeLength(n.length), encodeLength(v.length), n, v);
  }
  return Buffer.concat(parts);
}

/** The inverse of encodeNameValuePairs; throws on a truncated pair. */
export function decodeNameValuePairs(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  const length = (): number => {
    if (at >= buf.length) throw new RangeError('truncated FastCGI name-value pair');
    const first = buf.readUInt8(at);
    if (first < 0x80) {
      at += 1;
      return first;
    }
    if (at + 4 > buf.length) throw new RangeError('truncated FastCGI name-value pair');
    const n = buf.readUInt32BE(at) & 0x7fffffff;
    at += 4;
    return n;
  };
  while (at < buf.length) {
    const nl = length();
    const vl = length();
    if (at + nl + vl > buf.length) throw new RangeError('truncated FastCGI name-value pair');
    const name = buf.subarray(at, at + nl).toString('utf8');
    const value = buf.subarray(at + nl, at + nl + vl).toString('utf8');
    at += nl + vl;
    out[name] = value;
  }
  return out;
}

export interface FcgiRequest {
  params: Record<string, string>;
  /** The request body (FCGI_STDIN). */
  stdin?: Buffer | string;
  requestId?: number;
}

/**
 * A whole responder request. flags = 0 (no FCGI_KEEP_CONN): the pool closes the connection
 * after END_REQUEST, which is how the relay on the server knows the answer is complete.
 */
export function encodeRequest(req: FcgiRequest): Buffer {
  const id = req.requestId ?? 1;
  const begin = Buffer.alloc(8);
  begin.writeUInt16BE(FCGI_RESPONDER, 0);
  begin.writeUInt8(0, 2);
  const stdin = typeof req.stdin === 'string' ? Buffer.from(req.stdin, 'utf8') : (req.stdin ?? Buffer.alloc(0));
  return Buffer.concat([
    encodeRecord(FCGI.BEGIN_REQUEST, id, begin),
    encodeStream(FCGI.PARAMS, id, encodeNameValuePairs(req.params)),
    encodeStream(FCGI.STDIN, id, stdin),
  ]);
}

/** Every complete record in `buf`, and the bytes of an incomplete last one (empty when none). */
export function decodeRecords(buf: Buffer): { records: FcgiRecord[]; rest: Buffer } {
  const records: FcgiRecord[] = [];
  let at = 0;
  while (buf.length - at >= HEADER_LEN) {
    const version = buf.readUInt8(at);
    if (version !== FCGI_VERSION_1) throw new Error(`not a FastCGI record (version byte ${version} at offset ${at})`);
    const type = buf.readUInt8(at + 1);
    const requestId = buf.readUInt16BE(at + 2);
    const contentLength = buf.readUInt16BE(at + 4);
    const padding = buf.readUInt8(at + 6);
    const end = at + HEADER_LEN + contentLength + padding;
    if (end > buf.length) break;
    records.push({ type, requestId, content: Buffer.from(buf.subarray(at + HEADER_LEN, at + HEADER_LEN + contentLength)) });
    at = end;
  }
  return { records, rest: Buffer.from(buf.subarray(at)) };
}

export interface FcgiResponse {
  /** END_REQUEST was received: the answer is whole. */
  complete: boolean;
  /** From the CGI `Status:` header; 200 when the script set none. */
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
  /** FCGI_STDERR: PHP errors, FPM's "Primary script unknown". */
  stderr: string;
  appStatus?: number;
  protocolStatus?: (typeof FCGI_PROTOCOL_STATUS)[number] | `UNKNOWN(${number})`;
}

/** Split CGI output into headers and body (the blank line may be CRLF or LF). */
export function splitCgiOutput(out: Buffer): { status: number; headers: Record<string, string>; body: Buffer } {
  const crlf = out.indexOf('\r\n\r\n');
  const lf = out.indexOf('\n\n');
  let headEnd: number;
  let bodyStart: number;
  if (crlf !== -1 && (lf === -1 || crlf < lf)) {
    headEnd = crlf;
    bodyStart = crlf + 4;
  } else if (lf !== -1) {
    headEnd = lf;
    bodyStart = lf + 2;
  } else {
    // No blank line: no headers at all (not what PHP sends, but not worth failing over).
    return { status: 200, headers: {}, body: out };
  }
  const headers: Record<string, string> = {};
  for (const line of out.subarray(0, headEnd).toString('latin1').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = headers.status ? Number.parseInt(headers.status, 10) : 200;
  return { status: Number.isFinite(status) ? status : 200, headers, body: out.subarray(bodyStart) };
}

/** What a pool answered to request `requestId` (records of other ids are ignored). */
export function parseResponse(buf: Buffer, requestId = 1): FcgiResponse {
  const { records } = decodeRecords(buf);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let end: FcgiRecord | undefined;
  for (const r of records) {
    if (r.requestId !== requestId) continue;
    if (r.type === FCGI.STDOUT) stdout.push(r.content);
    else if (r.type === FCGI.STDERR) stderr.push(r.content);
    else if (r.type === FCGI.END_REQUEST) {
      end = r;
      break;
    }
  }
  const cgi = splitCgiOutput(Buffer.concat(stdout));
  const out: FcgiResponse = { complete: end !== undefined, ...cgi, stderr: Buffer.concat(stderr).toString('utf8') };
  if (end && end.content.length >= 5) {
    out.appStatus = end.content.readUInt32BE(0);
    const ps = end.content.readUInt8(4);
    out.protocolStatus = FCGI_PROTOCOL_STATUS[ps] ?? `UNKNOWN(${ps})`;
  }
  return out;
}

/**
 * The CGI/1.1 parameters PHP-FPM needs to run `script` as a POST with a JSON body. The script
 * runs by SCRIPT_FILENAME alone: no document root, no web server, no URL.
 */
export function scriptParams(script: string, body: Buffer, extra: Record<string, string> = {}): Record<string, string> {
  const name = `/${script.split('/').pop() ?? ''}`;
  return {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: 'flight',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REQUEST_METHOD: 'POST',
    SCRIPT_FILENAME: script,
    SCRIPT_NAME: name,
    REQUEST_URI: name,
    DOCUMENT_URI: name,
    QUERY_STRING: '',
    CONTENT_TYPE: 'application/json',
    CONTENT_LENGTH: String(body.length),
    REMOTE_ADDR: '127.0.0.1',
    SERVER_NAME: 'localhost',
    ...extra,
  };
}
