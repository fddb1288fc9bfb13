/**
 * Kinds of value: what a value must look like before it reaches a command line, a rendered
 * config file (nginx, PHP-FPM, supervisor, cron, .env), an SSH connection or a path on a server.
 * Each kind is declared once, here, and used everywhere a value of that kind comes in:
 *
 * - in JSON schemas as `format: '<kind>'` (every validator createAjv makes knows them all), so a
 *   definition file with a bad value is refused at load time with its file, line and key;
 * - by the CLI and `flight serve` for their arguments (`kindError`);
 * - by modules for their arguments.
 *
 * A kind accepts only what its target reads as plain data: no control characters anywhere, no
 * leading `-` where a value could be read as an option, nothing a config format treats as
 * syntax. Where a format has a special character that ordinary values need (`%` in supervisor
 * files), the one place that renders the value escapes it instead.
 */

export interface Kind {
  /** Also its JSON-schema format name. */
  name: string;
  /** What a value must be, in words: ends every message about a bad one. */
  expected: string;
  test(value: string): boolean;
}

/** Becomes a Linux user and group name (useradd's limit is 32) and the `app_<name>` group. */
export const APP_NAME_PATTERN = '^[a-z][a-z0-9_]{0,30}$';
/** Becomes the `cluster_<name>` group. */
export const CLUSTER_NAME_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
export const IPV4 = `${OCTET}(?:\\.${OCTET}){3}`;
const H16 = '[0-9A-Fa-f]{1,4}';
/** RFC 4291 text forms, without zone ids (`%eth0`) or embedded IPv4. */
export const IPV6 = [
  `(?:${H16}:){7}${H16}`,
  `(?:${H16}:){1,7}:`,
  `(?:${H16}:){1,6}:${H16}`,
  `(?:${H16}:){1,5}(?::${H16}){1,2}`,
  `(?:${H16}:){1,4}(?::${H16}){1,3}`,
  `(?:${H16}:){1,3}(?::${H16}){1,4}`,
  `(?:${H16}:){1,2}(?::${H16}){1,5}`,
  `${H16}:(?::${H16}){1,6}`,
  `:(?:(?::${H16}){1,7}|:)`,
].join('|');
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
/** A DNS name by the host name rules (labels of 1-63, 253 in all) that cannot be read as an address. */
export const DNS = `(?=.{1,253}$)(?![0-9.]+$)${LABEL}(?:\\.${LABEL})*`;

const whole = (source: string): RegExp => new RegExp(`^(?:${source})$`);
const IPV4_RE = whole(IPV4);
const IPV6_RE = whole(IPV6);
const DNS_RE = whole(DNS);
/** C0 controls, DEL and the C1 controls, line and paragraph separators: never in any value. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export const isAddress = (v: string): boolean => IPV4_RE.test(v) || IPV6_RE.test(v);
export const isHost = (v: string): boolean => isAddress(v) || DNS_RE.test(v);

/** A domain as nginx's server_name takes it: lowercase DNS name, optionally `*.` for every subdomain. */
const DOMAIN_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN_RE = new RegExp(`^(?=.{1,253}$)(?:\\*\\.)?${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*$`);

/**
 * A branch name of plain characters (letters, digits, `._/+-`) that git takes as a ref name
 * (git check-ref-format --branch): no control characters,
 * space, `~^:?*[\`, `..`, `@{`, no component starting with `.` or ending with `.lock`, no
 * leading `-` or `/`, no trailing `/` or `.`, and not `@` alone.
 */
function isBranch(v: string): boolean {
  if (v === '' || v === '@' || v.length > 255 || !/^[A-Za-z0-9._/+-]+$/.test(v)) return false;
  if (CONTROL.test(v) || /[\s~^:?*[\\]/.test(v) || v.includes('..') || v.includes('@{') || v.includes('//')) return false;
  if (/^[-/]/.test(v) || /[/.]$/.test(v)) return false;
  return v.split('/').every((c) => c !== '' && !c.startsWith('.') && !c.endsWith('.lock'));
}

/** URL schemes git fetches over without running a program of the URL's choosing. */
const GIT_SCHEMES = new Set(['ssh', 'git+ssh', 'ssh+git', 'git', 'http', 'https', 'file']);

/**
 * A repository git can fetch, in the forms git documents: `scheme://[user@]host[:port]/path`
 * (ssh, git, http(s)), `file:///path`, scp-like `[user@]host:path`, or a local path of plain
 * characters (letters, digits, `._/+@=,~-`). Never a
 * leading `-` (git would read an option: `--upload-pack=...`), never `transport::address` (the
 * `ext::` transport runs a command), no whitespace or control characters.
 */
function isRepo(v: string): boolean {
  if (v === '' || v.length > 2048 || CONTROL.test(v) || /\s/.test(v) || v.startsWith('-')) return false;
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(v)) return false;
  const url = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(v);
  if (url) {
    const scheme = url[1]!.toLowerCase();
    if (!GIT_SCHEMES.has(scheme)) return false;
    const rest = url[2]!;
    if (scheme === 'file') return rest.startsWith('/') && rest.length > 1;
    const m = /^(?:([A-Za-z0-9._~%-]+(?::[^@/]+)?)@)?(\[[0-9A-Fa-f:]+\]|[^/:@[\]]+)(?::(\d{1,5}))?(\/.+)$/.exec(rest);
    if (!m) return false;
    const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
    if (!(m[2]!.startsWith('[') ? IPV6_RE.test(host) : isHost(host))) return false;
    return m[3] === undefined || (Number(m[3]) >= 1 && Number(m[3]) <= 65535);
  }
  // git reads `host:path` as scp-like when the colon comes before any slash.
  const colon = v.indexOf(':');
  const slash = v.indexOf('/');
  if (colon > 0 && (slash < 0 || colon < slash)) {
    const m = /^(?:([A-Za-z0-9._~-]+)@)?(\[[0-9A-Fa-f:]+\]|[^/:@[\]]+):(.+)$/.exec(v);
    if (!m) return false;
    const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
    return (m[2]!.startsWith('[') ? IPV6_RE.test(host) : isHost(host)) && !m[3]!.startsWith('-');
  }
  // A local path (resolved against the definitions folder): plain characters only.
  return /^[A-Za-z0-9._/+@=,~-]+$/.test(v);
}

/**
 * A path inside the app, relative to a release (and to shared/): segments of plain characters
 * (letters, digits, `._@+=,~-`: no space, no shell or glob syntax, which rsync's exclude
 * patterns would read), never `.` or `..`, never absolute or starting with `-`, no empty
 * segment, no trailing `/`.
 */
function isRelativePath(v: string): boolean {
  if (v === '' || v.length > 1024 || v.startsWith('-') || !/^[A-Za-z0-9._@+=,~/-]+$/.test(v)) return false;
  return v.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

const ipv4Bits = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const CLIENT_RE = new RegExp(`^(?:${IPV4}(?:/${IPV4})?|${IPV6}|${DNS})$`);

/**
 * Why a MariaDB client host cannot be used, or undefined: IPv4, IPv4/netmask, IPv6 or a DNS
 * name; no `%` wildcards, quotes, spaces or leading dashes. MariaDB matches an address/netmask
 * when client & netmask == address, so an address with bits outside the mask, or a mask that is
 * not contiguous ones, would silently match nothing or something unintended.
 */
export function dbClientError(client: string): string | undefined {
  if (!CLIENT_RE.test(client)) return `invalid client '${client}': expected an IPv4 or IPv6 address, a DNS name, or IPv4 address/netmask`;
  const [address, mask] = client.split('/');
  if (mask === undefined || address!.includes(':')) return undefined;
  const m = ipv4Bits(mask);
  if (!/^1*0*$/.test(m.toString(2).padStart(32, '0'))) return `invalid client '${client}': the netmask ${mask} is not contiguous ones`;
  if ((ipv4Bits(address!) & ~m) >>> 0 !== 0) return `invalid client '${client}': ${address} has bits outside the netmask ${mask} (MariaDB would match no client)`;
  return undefined;
}

const kinds = [
  { name: 'host', expected: 'a host: a DNS name (labels of letters, digits and inner hyphens, up to 63 characters each, 253 in all), an IPv4 or an IPv6 address', test: isHost },
  { name: 'ip', expected: 'an IPv4 or IPv6 address (no port, no brackets)', test: isAddress },
  { name: 'address', expected: 'an IPv4 or IPv6 address, or a DNS name, without a port', test: isHost },
  { name: 'domain', expected: "a lowercase domain name like shop.example.com (labels up to 63 characters, 253 in all; '*.' first for every subdomain)", test: (v) => DOMAIN_RE.test(v) },
  { name: 'app-name', expected: "an app name: a lowercase letter, then lowercase letters, digits or '_' (31 at most)", test: (v) => new RegExp(APP_NAME_PATTERN).test(v) },
  { name: 'cluster-name', expected: "a cluster name of lowercase letters, digits, '_' and '-' (63 at most)", test: (v) => new RegExp(CLUSTER_NAME_PATTERN).test(v) },
  { name: 'server-name', expected: "a server name of lowercase letters, digits and inner '-', up to 63 characters (like web-1)", test: (v) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(v) },
  { name: 'user-name', expected: "a user name: a lowercase letter or '_', then lowercase letters, digits, '_' or '-' (32 at most)", test: (v) => /^[a-z_][a-z0-9_-]{0,31}$/.test(v) },
  { name: 'repo', expected: "a git repository: ssh://, https://, git:// or file:// URL, user@host:path, or a path (no leading '-', no 'transport::' form, no spaces)", test: isRepo },
  { name: 'branch', expected: "a git branch name of letters, digits and '._/+-' (no '..', no leading '-' or '.', no trailing '/', '.' or '.lock')", test: isBranch },
  { name: 'sha', expected: 'a commit sha: 4 to 40 lowercase hex characters', test: (v) => /^[0-9a-f]{4,40}$/.test(v) },
  { name: 'release-id', expected: "a release id as `flight app:releases` lists it (like 20261126T052400Z-1a2b3c4d5e6f, or A or B)", test: (v) => /^[0-9A-Za-z][0-9A-Za-z-]{0,79}$/.test(v) },
  { name: 'php-version', expected: 'a PHP version string like "8.2"', test: (v) => /^\d{1,2}\.\d{1,2}$/.test(v) },
  { name: 'command-line', expected: 'a command on one line (no line breaks or control characters)', test: (v) => v.trim() !== '' && v.length <= 4096 && !CONTROL.test(v) },
  {
    name: 'artisan-command',
    // supervisord reads ` ;` and ` #` as the start of a comment: the rest would be dropped.
    expected: "an artisan command and its arguments on one line, like queue:work --sleep=1 (no ' ;' or ' #', no '%(' expansion, no line breaks)",
    test: (v) => /^[a-z][a-z0-9:_-]*(?: [^\s].*)?$/.test(v) && v.length <= 1024 && !CONTROL.test(v) && !/\s[;#]/.test(v) && !/\s$/.test(v) && !v.includes('%('),
  },
  { name: 'url-path', expected: "a URL path starting with '/' (printable ASCII, no spaces)", test: (v) => /^\/[\x21-\x7e]*$/.test(v) && v.length <= 2048 },
  { name: 'relative-path', expected: "a path inside the app: letters, digits and '._@+=,~-/', relative (no leading '/' or '-'), no '.' or '..' segment, no empty segment or trailing '/'", test: isRelativePath },
  { name: 'db-client', expected: 'an address MariaDB lets an app in from: an IPv4 or IPv6 address, a DNS name, or IPv4 address/netmask with contiguous mask bits', test: (v) => dbClientError(v) === undefined },
  { name: 'local-path', expected: 'a path on this machine (no control characters)', test: (v) => v !== '' && v.length <= 4096 && !CONTROL.test(v) },
] as const satisfies readonly Kind[];

export type KindName = (typeof kinds)[number]['name'];

export const KINDS: ReadonlyMap<KindName, Kind> = new Map(kinds.map((k) => [k.name, k]));

/** A JSON-schema fragment for a string of this kind; `expected` words override the kind's own. */
export function kind(name: KindName, expected?: string): { type: 'string'; format: KindName; expected: string } {
  return { type: 'string', format: name, expected: expected ?? KINDS.get(name)!.expected };
}

/** Why `value` is not of the kind, in words naming `what` (e.g. "the sha"), or undefined. */
export function kindError(name: KindName, value: unknown, what: string): string | undefined {
  const k = KINDS.get(name)!;
  if (typeof value === 'string' && k.test(value)) return undefined;
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value) : String(value);
  return `${what} ${shown} is not valid: expected ${k.expected}`;
}
