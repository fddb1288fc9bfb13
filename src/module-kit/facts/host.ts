/**
 * Host facts: read once per host per run in a single remote command, so every later decision
 * (which init system, which PHP versions exist) costs no round trip.
 */
import { script } from '../../command.js';
import type { Connection } from '../../connection/types.js';

export interface Facts {
  hostname: string;
  distribution: string; // e.g. "debian"
  release: string; // e.g. "12"
  codename: string; // e.g. "bookworm"
  arch: string;
  /** 'systemd' only when systemd is PID 1 (/run/systemd/system exists), else 'sysv'. */
  initSystem: 'systemd' | 'sysv';
  /** Installed PHP versions, e.g. ["8.2"], from /usr/bin/phpX.Y. */
  php: string[];
  user: string;
}

const GATHER = `
. /etc/os-release 2>/dev/null
h=; read -r h 2>/dev/null < /proc/sys/kernel/hostname || h=$(hostname)
echo "hostname=$h"
echo "distribution=\${ID:-unknown}"
echo "release=\${VERSION_ID:-unknown}"
echo "codename=\${VERSION_CODENAME:-unknown}"
echo "arch=$(uname -m)"
if [ -d /run/systemd/system ]; then echo init=systemd; else echo init=sysv; fi
echo "user=\${USER:-$(id -un)}"
for p in /usr/bin/php[0-9]*.[0-9]*; do [ -x "$p" ] && echo "php=\${p#/usr/bin/php}"; done
true
`;

export function parseFacts(stdout: string): Facts {
  const facts: Facts = {
    hostname: '', distribution: 'unknown', release: 'unknown', codename: 'unknown',
    arch: '', initSystem: 'sysv', php: [], user: '',
  };
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    switch (key) {
      case 'hostname': facts.hostname = value; break;
      case 'distribution': facts.distribution = value; break;
      case 'release': facts.release = value; break;
      case 'codename': facts.codename = value; break;
      case 'arch': facts.arch = value; break;
      case 'init': facts.initSystem = value === 'systemd' ? 'systemd' : 'sysv'; break;
      case 'user': facts.user = value; break;
      case 'php': if (/^\d+\.\d+$/.test(value)) facts.php.push(value); break;
    }
  }
  facts.php.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return facts;
}

export async function gatherFacts(conn: Connection): Promise<Facts> {
  const res = await conn.exec(script(GATHER));
  return parseFacts(res.stdout);
}
