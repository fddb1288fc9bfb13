/** Who listens where (read from /proc, sending nothing), and whether an sshd answers. */
import fs from 'node:fs';
import net from 'node:net';

function v4(hex: string): string {
  // /proc/net/tcp prints the address as one host-order word: little-endian bytes on x86/arm.
  const bytes = hex.match(/../g)!.map((b) => parseInt(b, 16));
  return (new Uint8Array(new Uint32Array([0x01020304]).buffer)[0] === 4 ? bytes.reverse() : bytes).join('.');
}

function v6(hex: string): string {
  if (/^0{32}$/.test(hex)) return '::';
  // IPv4-mapped (::ffff:a.b.c.d): the last word is the IPv4 address.
  if (/^0{16}0000FFFF/i.test(hex)) return v4(hex.slice(24));
  return `v6:${hex}`;
}

/** Local addresses with a TCP socket listening on `port`. */
export function listeners(port: number): Set<string> {
  const found = new Set<string>();
  for (const [file, decode] of [['/proc/net/tcp', v4], ['/proc/net/tcp6', v6]] as const) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, portHex] = cols[1]!.split(':');
      if (parseInt(portHex!, 16) === port) found.add(decode(addr!));
    }
  }
  return found;
}

/** What already holds address:port (a socket on that address, or on every address), if anything. */
export function portHolder(address: string, port: number, current = listeners(port)): string | null {
  for (const candidate of [address, '0.0.0.0', '::']) {
    if (current.has(candidate)) return candidate === '::' ? `[::]:${port}` : `${candidate}:${port}`;
  }
  return null;
}

/** Connect and read the first line: an sshd greets with `SSH-2.0-...` before the client says anything. */
export function sshAnswers(address: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    let buffer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      if (buffer.includes('\n')) done(buffer.startsWith('SSH-2.0-'));
    });
    socket.on('end', () => done(false));
  });
}
