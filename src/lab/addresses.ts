/** Lab server names and their loopback addresses: lab-i listens on FIRST + (i - 1). */
import { invalid } from '../errors.js';

export const FIRST_ADDRESS = '127.0.0.2';

export function serverName(index: number): string {
  return `lab-${index}`;
}

/** 1-based index of `lab-<i>`, or null for any other name. */
export function serverIndex(name: string): number | null {
  const m = /^lab-([1-9][0-9]*)$/.exec(name);
  return m ? Number(m[1]) : null;
}

function toInt(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw invalid(`not an IPv4 address: ${address}`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function fromInt(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * The addresses of N servers from `first`. Only 127.0.0.0/8 is allowed (it all routes to lo, so
 * the lab never touches a real network), and 127.0.0.1 stays the machine's own.
 */
export function serverAddresses(first: string, count: number): string[] {
  const start = toInt(first);
  const lo = toInt('127.0.0.2');
  const hi = toInt('127.255.255.254');
  if (start < lo || start + count - 1 > hi) {
    throw invalid(`lab addresses must lie in 127.0.0.2-127.255.255.254; ${first} with ${count} servers does not`);
  }
  return Array.from({ length: count }, (_, i) => fromInt(start + i));
}
