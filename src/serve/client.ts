/**
 * Who a request comes from. The connecting address, unless that is a proxy the operator listed
 * (flight.yml serve.trusted_proxies): then the address that proxy says it took the request
 * from, the right-most entry of X-Forwarded-For that is not itself a listed proxy. Entries left
 * of it are whatever the client sent and are never believed; a header that is not a list of
 * addresses names nobody, and the proxy itself is the client.
 */
import net from 'node:net';

export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, trusted: ReadonlySet<string>): string {
  const direct = normalize(peer ?? '?');
  if (!trusted.has(direct) || forwardedFor === undefined) return direct;
  const hops = ([] as string[]).concat(forwardedFor).join(',').split(',').map((h) => normalize(h.trim()));
  if (hops.some((h) => net.isIP(h) === 0)) return direct;
  for (let i = hops.length - 1; i >= 0; i--) if (!trusted.has(hops[i]!)) return hops[i]!;
  return hops[0] ?? direct;
}

/** `::ffff:10.0.0.5` (an IPv4 client on a dual-stack socket) is 10.0.0.5. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The key a client's limits and backoff are counted under: its IPv4 address, or its IPv6 /64
 * (one subscriber's network: an attacker there has 2^64 addresses to rotate through).
 */
export function clientKey(address: string): string {
  const a = normalize(address);
  if (net.isIPv6(a) === false) return a;
  const [head = '', tail] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
