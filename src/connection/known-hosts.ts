/**
 * OpenSSH known_hosts, as pure logic: parse the file's text, decide whether a presented host key
 * is known, unknown, changed or revoked, and format the line `accept-new` appends. Reading and
 * writing the file happen in ssh.ts; nothing here touches the disk or the network, so every rule
 * is unit-tested as data.
 *
 * Covered: plain names, comma lists, `[host]:port` entries, wildcard (`*`, `?`) and negated (`!`)
 * patterns, hashed `|1|salt|hash` names, `@revoked` lines, comments and blank lines.
 * `@cert-authority` lines are kept but never trusted: ssh2 does not verify host certificates,
 * so treating a CA line as a key would be wrong, and ignoring it keeps the host "unknown".
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type KnownHostMarker = 'cert-authority' | 'revoked';

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages that point at the line. */
  line: number;
  marker?: KnownHostMarker;
  /** Comma-separated patterns as written (`!` negation kept). Empty when `hashed` is set. */
  patterns: string[];
  /** A hashed name: HMAC-SHA1 of the looked-up name keyed with `salt`. */
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  /** The key blob in SSH wire format (what ssh2 hands to hostVerifier). */
  key: Buffer;
}

/** Parse known_hosts text. Malformed lines are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const entry = parseLine(lines[i]!, i + 1);
    if (entry) entries.push(entry);
  }
  return entries;
}

function parseLine(raw: string, line: number): KnownHostEntry | undefined {
  const text = raw.trim();
  if (text === '' || text.startsWith('#')) return undefined;
  const fields = text.split(/[ \t]+/);
  let marker: KnownHostMarker | undefined;
  if (fields[0]!.startsWith('@')) {
    const m = fields.shift()!;
    if (m === '@cert-authority') marker = 'cert-authority';
    else if (m === '@revoked') marker = 'revoked';
    else return undefined; // an unknown marker: OpenSSH refuses to guess, so do we
  }
  if (fields.length < 3) return undefined;
  const [hosts, keyType, b64] = fields as [string, string, string];
  const key = decodeBase64(b64);
  if (!key) return undefined;
  // The blob names its own type; a line whose label disagrees with its blob is corrupt.
  if (keyTypeOf(key) !== keyType) return undefined;

  if (hosts.startsWith('|1|')) {
    const parts = hosts.split('|');
    if (parts.length !== 4) return undefined;
    const salt = decodeBase64(parts[2]!);
    const hash = decodeBase64(parts[3]!);
    if (!salt || !hash || hash.length !== 20) return undefined;
    return { line, marker, patterns: [], hashed: { salt, hash }, keyType, key };
  }
  const patterns = hosts.split(',').filter((p) => p !== '');
  if (patterns.length === 0) return undefined;
  return { line, marker, patterns, keyType, key };
}

function decodeBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  const buf = Buffer.from(s, 'base64');
  return buf.length > 0 ? buf : undefined;
}

/** The key type written at the start of an SSH wire-format key blob (`ssh-ed25519`, ...). */
export function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function lookupName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** OpenSSH's `ssh-keygen -l` form: `SHA256:` and unpadded base64 of the blob's digest. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** Does this entry's host part name `host` on `port`? */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = lookupName(host, port);
  if (entry.hashed) {
    const h = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return timingSafeEqual(h, entry.hashed.hash);
  }
  let positive = false;
  for (const p of entry.patterns) {
    const negated = p.startsWith('!');
    const pattern = (negated ? p.slice(1) : p).toLowerCase();
    if (globMatch(pattern, name)) {
      if (negated) return false; // a negated match wins over any positive one
      positive = true;
    }
  }
  return positive;
}

/** OpenSSH's match_pattern: `*` any run of characters, `?` exactly one. */
function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  const re = new RegExp(
    '^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
  );
  return re.test(name);
}

export type HostKeyStatus =
  | { status: 'known'; line: number }
  | { status: 'unknown' }
  /** The host has entries, none of them this key. `lines` point at what was expected. */
  | { status: 'mismatch'; lines: number[]; knownTypes: string[] }
  | { status: 'revoked'; line: number };

/**
 * Judge a presented key. A host that has any key on file but presents none of them is a
 * mismatch, even when the type differs: we steer negotiation to the known types first (see
 * knownKeyTypes), so a server offering only a new type is as suspicious as a changed key.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], host: string, port: number, blob: Buffer): HostKeyStatus {
  const relevant = entries.filter((e) => entryMatches(e, host, port));
  const revoked = relevant.find((e) => e.marker === 'revoked' && e.key.equals(blob));
  if (revoked) return { status: 'revoked', line: revoked.line };
  const keys = relevant.filter((e) => e.marker === undefined);
  const hit = keys.find((e) => e.key.equals(blob));
  if (hit) return { status: 'known', line: hit.line };
  if (keys.length === 0) return { status: 'unknown' };
  return { status: 'mismatch', lines: keys.map((e) => e.line), knownTypes: [...new Set(keys.map((e) => e.keyType))] };
}

/** Key types on file for a host, in file order: negotiation should prefer these. */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === undefined && !types.includes(e.keyType) && entryMatches(e, host, port)) types.push(e.keyType);
  }
  return types;
}

/** ssh2's host key algorithms, in its default order. */
const DEFAULT_HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * The host key algorithm list to offer: algorithms for the key types already on file first (an
 * `ssh-rsa` key is signed with rsa-sha2-*), then the rest. Without this the server could pick
 * an ed25519 key while only its RSA key is on file, and a known host would look unknown.
 */
export function hostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const first: string[] = [];
  for (const t of knownTypes) {
    const algos = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algos) if (DEFAULT_HOST_KEY_ALGORITHMS.includes(a) && !first.includes(a)) first.push(a);
  }
  return [...first, ...DEFAULT_HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

/** The line `accept-new` appends (plain, not hashed, so an operator can read and audit it). */
export function formatKnownHostsLine(host: string, port: number, blob: Buffer): string {
  const type = keyTypeOf(blob);
  if (!type) throw new Error('not an SSH public key blob');
  return `${lookupName(host, port)} ${type} ${blob.toString('base64')}`;
}
