import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkHostKey,
  entryMatches,
  fingerprint,
  formatKnownHostsLine,
  hostKeyAlgorithms,
  keyTypeOf,
  knownKeyTypes,
  lookupName,
  parseKnownHosts,
  type HostKeyStatus,
} from '../../../src/connection/known-hosts.js';

// Real keys made with ssh-keygen; the hashed lines come from `ssh-keygen -H` (OpenSSH's own
// hashing), so the HMAC rule is checked against OpenSSH rather than against itself.
const K1 = 'AAAAC3NzaC1lZDI1NTE5AAAAINd8sGk+o4fcTd/skHTtLAQ0Kyp62iIa9rKYdovvTUn3';
const K2 = 'AAAAC3NzaC1lZDI1NTE5AAAAINtWRZLwNk1rERNWjk8SZk8P7y15/uhxY0gwT0wM1cnP';
const K3 =
  'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHHlABOh/WNOiJ814qSGso+HoRfUb0KyDSabWo3STeT/Sqpd7UOVjQsIlBhTwulPUavqpIYmIm4WsfeazFOJ9Jw=';
const HASHED_WEB1 = '|1|7QJMrqw2BSQn/hv/3Vhrl0EiSY8=|fNKRAWefeKS2iXQJTGtSPzDM4jQ='; // web-1.example.com -> K1
const HASHED_PORT = '|1|s0a6roFKm3PdtmAsU+nSiSfCPaA=|g+01DiCbzMzB5+pZ0wKryHxvQZ0='; // [10.0.0.7]:2222 -> K2

const b = (k: string) => Buffer.from(k, 'base64');

describe('known_hosts parsing', () => {
  it('skips comments, blank lines, malformed lines and unknown markers, keeps line numbers', () => {
    const text = [
      '# a comment',
      '',
      `web-1 ssh-ed25519 ${K1} some comment with spaces`,
      'broken-line-without-key',
      `web-2 ssh-ed25519 not*base64`,
      `web-3 ssh-rsa ${K1}`, // label disagrees with the blob: corrupt
      `@weird web-4 ssh-ed25519 ${K1}`,
      `   \tweb-5 ssh-ed25519 ${K2}  `,
      `@revoked * ssh-ed25519 ${K2}`,
      `@cert-authority *.example.com ssh-ed25519 ${K1}`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    assert.deepEqual(
      entries.map((e) => [e.line, e.marker, e.patterns.join(',')]),
      [
        [3, undefined, 'web-1'],
        [8, undefined, 'web-5'],
        [9, 'revoked', '*'],
        [10, 'cert-authority', '*.example.com'],
      ],
    );
    assert.equal(entries[0]!.keyType, 'ssh-ed25519');
    assert.deepEqual(entries[0]!.key, b(K1));
  });

  it('parses CRLF files', () => {
    assert.equal(parseKnownHosts(`a ssh-ed25519 ${K1}\r\nb ssh-ed25519 ${K2}\r\n`).length, 2);
  });

  it('reads the key type from a blob', () => {
    assert.equal(keyTypeOf(b(K1)), 'ssh-ed25519');
    assert.equal(keyTypeOf(b(K3)), 'ecdsa-sha2-nistp256');
    assert.equal(keyTypeOf(Buffer.from([0, 0])), undefined);
  });

  it('fingerprints like ssh-keygen -l', () => {
    assert.equal(fingerprint(b(K1)), 'SHA256:pHgPHxftNwEtAghzCagBlHejHxdW7YUIUIS33eUCuxs');
  });
});

describe('known_hosts host matching', () => {
  const cases: Array<{ name: string; hosts: string; host: string; port: number; match: boolean }> = [
    { name: 'plain name', hosts: 'web-1', host: 'web-1', port: 22, match: true },
    { name: 'plain name is case-insensitive', hosts: 'Web-1', host: 'WEB-1', port: 22, match: true },
    { name: 'plain name, other host', hosts: 'web-1', host: 'web-10', port: 22, match: false },
    { name: 'plain name does not cover another port', hosts: 'web-1', host: 'web-1', port: 2222, match: false },
    { name: 'comma list, second name', hosts: 'web-1,10.0.0.5', host: '10.0.0.5', port: 22, match: true },
    { name: 'comma list, no name', hosts: 'web-1,10.0.0.5', host: '10.0.0.6', port: 22, match: false },
    { name: 'port form', hosts: '[10.0.0.7]:2222', host: '10.0.0.7', port: 2222, match: true },
    { name: 'port form, other port', hosts: '[10.0.0.7]:2222', host: '10.0.0.7', port: 2223, match: false },
    { name: 'port form, default port', hosts: '[10.0.0.7]:2222', host: '10.0.0.7', port: 22, match: false },
    { name: 'port form in a comma list', hosts: 'web-7,[10.0.0.7]:2222', host: '10.0.0.7', port: 2222, match: true },
    { name: 'wildcard', hosts: '*.example.com', host: 'db.example.com', port: 22, match: true },
    { name: 'wildcard needs the dot', hosts: '*.example.com', host: 'example.com', port: 22, match: false },
    { name: 'question mark', hosts: 'web-?', host: 'web-3', port: 22, match: true },
    { name: 'regex characters are literal', hosts: 'web.1', host: 'webx1', port: 22, match: false },
    { name: 'negation wins', hosts: '*.example.com,!db.example.com', host: 'db.example.com', port: 22, match: false },
    { name: 'negation alone matches nothing', hosts: '!db.example.com', host: 'web.example.com', port: 22, match: false },
    { name: 'hashed name', hosts: HASHED_WEB1, host: 'web-1.example.com', port: 22, match: true },
    { name: 'hashed name, other host', hosts: HASHED_WEB1, host: 'web-2.example.com', port: 22, match: false },
    { name: 'hashed port form', hosts: HASHED_PORT, host: '10.0.0.7', port: 2222, match: true },
    { name: 'hashed port form, default port', hosts: HASHED_PORT, host: '10.0.0.7', port: 22, match: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [entry] = parseKnownHosts(`${c.hosts} ssh-ed25519 ${K1}`);
      assert.ok(entry, 'line parsed');
      assert.equal(entryMatches(entry, c.host, c.port), c.match);
    });
  }

  it('builds the OpenSSH lookup name', () => {
    assert.equal(lookupName('Web-1', 22), 'web-1');
    assert.equal(lookupName('127.0.0.3', 2200), '[127.0.0.3]:2200');
  });
});

describe('known_hosts key checking', () => {
  const file = [
    `web-1,10.0.0.5 ssh-ed25519 ${K1}`,
    `web-1 ecdsa-sha2-nistp256 ${K3}`,
    `${HASHED_PORT} ssh-ed25519 ${K2}`,
    `[10.0.0.9]:2200 ssh-ed25519 ${K2}`,
    `@revoked * ecdsa-sha2-nistp256 ${K3}`,
    `@cert-authority * ssh-ed25519 ${K2}`,
  ].join('\n');
  const entries = parseKnownHosts(file);
  const cases: Array<{ name: string; host: string; port: number; key: string; want: HostKeyStatus }> = [
    { name: 'known by name', host: 'web-1', port: 22, key: K1, want: { status: 'known', line: 1 } },
    { name: 'known by second name in a list', host: '10.0.0.5', port: 22, key: K1, want: { status: 'known', line: 1 } },
    { name: 'known through a hashed port entry', host: '10.0.0.7', port: 2222, key: K2, want: { status: 'known', line: 3 } },
    { name: 'known by port form', host: '10.0.0.9', port: 2200, key: K2, want: { status: 'known', line: 4 } },
    {
      name: 'changed key is a mismatch',
      host: '10.0.0.5',
      port: 22,
      key: K2,
      want: { status: 'mismatch', lines: [1], knownTypes: ['ssh-ed25519'] },
    },
    {
      name: 'hashed entry with a different key is a mismatch',
      host: '10.0.0.7',
      port: 2222,
      key: K1,
      want: { status: 'mismatch', lines: [3], knownTypes: ['ssh-ed25519'] },
    },
    { name: 'unknown host', host: 'web-9', port: 22, key: K1, want: { status: 'unknown' } },
    { name: 'same address on another port is unknown', host: '10.0.0.9', port: 22, key: K2, want: { status: 'unknown' } },
    { name: 'a cert-authority line is not a trusted key', host: 'web-9', port: 22, key: K2, want: { status: 'unknown' } },
    { name: 'revoked beats known', host: 'web-1', port: 22, key: K3, want: { status: 'revoked', line: 5 } },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(checkHostKey(entries, c.host, c.port, b(c.key)), c.want));
  }

  it('lists the key types on file for a host', () => {
    assert.deepEqual(knownKeyTypes(entries, 'web-1', 22), ['ssh-ed25519', 'ecdsa-sha2-nistp256']);
    assert.deepEqual(knownKeyTypes(entries, 'web-9', 22), []);
  });

  it('offers the known key types first', () => {
    assert.deepEqual(hostKeyAlgorithms(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    const algos = hostKeyAlgorithms(['ecdsa-sha2-nistp256']);
    assert.equal(algos[0], 'ecdsa-sha2-nistp256');
    assert.equal(new Set(algos).size, algos.length, 'no duplicates');
    assert.ok(algos.includes('ssh-ed25519'));
    assert.equal(hostKeyAlgorithms([])[0], 'ssh-ed25519');
  });

  it('formats an appended line that parses back and matches', () => {
    for (const [host, port] of [['127.0.0.3', 22], ['127.0.0.3', 2200]] as const) {
      const line = formatKnownHostsLine(host, port, b(K1));
      assert.equal(line, `${lookupName(host, port)} ssh-ed25519 ${K1}`);
      assert.equal(checkHostKey(parseKnownHosts(line), host, port, b(K1)).status, 'known');
    }
  });
});
