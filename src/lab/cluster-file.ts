/** clusters/lab.yml: the lab as a Flight cluster, so every Flight command works on it with no extra flags. */
import fs from 'node:fs';
import path from 'node:path';
import { writeAtomic } from './keys.js';

export interface ClusterServer {
  name: string;
  address: string;
  port: number;
  web: boolean;
}

export function renderClusterFile(servers: ClusterServer[], key: string, knownHosts: string): string {
  const lines = [
    '# Written by `flight lab up`: the local lab\'s servers.',
    'php: ["8.2"]',
    'request_duration: 30',
    'request_payload: 10',
    'request_memory: 256',
    'servers:',
  ];
  for (const s of servers) {
    lines.push(`  - name: ${s.name}`, `    host: ${s.address}`, `    web_server: ${s.web}`);
    // Every server shares the machine's network: nginx must bind the server's own address.
    if (s.web) lines.push(`    listen: ${s.address}`);
    lines.push(`    ssh: { user: root, port: ${s.port}, key: ${key}, known_hosts: ${knownHosts} }`);
    // The worker is also the cluster's database and Redis server. Lab servers share the
    // machine's loopback, so a connection from any of them to another comes from 127.0.0.1.
    if (!s.web) lines.push('    database: { clients: ["127.0.0.1"] }', '    redis: true');
  }
  return `${lines.join('\n')}\n`;
}

/** With N servers all but the last are web servers; a lone server is a web server. */
export function isWeb(index: number, count: number): boolean {
  return count === 1 || index < count;
}

export function writeClusterFile(defsDir: string, text: string): string {
  const file = path.join(path.resolve(defsDir), 'clusters', 'lab.yml');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeAtomic(file, text);
  return file;
}
