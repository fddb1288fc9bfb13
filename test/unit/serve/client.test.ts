import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientAddress, clientKey } from '../../../src/serve/client.js';

test('the client is the peer, unless the peer is a trusted proxy; only the proxies\' own entries are believed', () => {
  const trusted = new Set(['10.0.0.2', '10.0.0.3']);
  const cases: Array<[string, string | undefined, string | string[] | undefined, string]> = [
    ['no proxy configured', '203.0.113.9', '198.51.100.1', '203.0.113.9'],
    ['an untrusted peer cannot name another client', '203.0.113.9', '10.0.0.2', '203.0.113.9'],
    ['a trusted proxy names the client', '10.0.0.2', '198.51.100.7', '198.51.100.7'],
    ['what the client wrote on the left is ignored', '10.0.0.2', '1.2.3.4, 198.51.100.7', '198.51.100.7'],
    ['two trusted proxies in a row', '10.0.0.2', '198.51.100.7, 10.0.0.3', '198.51.100.7'],
    ['repeated headers are one list', '10.0.0.2', ['1.2.3.4', '198.51.100.7'], '198.51.100.7'],
    ['a trusted proxy without the header is the client', '10.0.0.2', undefined, '10.0.0.2'],
    ['garbage names nobody', '10.0.0.2', 'evil, <script>', '10.0.0.2'],
    ['IPv4 on a dual-stack socket', '::ffff:10.0.0.2', '::ffff:198.51.100.7', '198.51.100.7'],
    ['IPv6 clients', '10.0.0.2', '2001:db8::1', '2001:db8::1'],
    ['only proxies in the list', '10.0.0.2', '10.0.0.3', '10.0.0.3'],
  ];
  for (const [what, peer, xff, want] of cases) assert.equal(clientAddress(peer, xff, trusted), want, what);
  assert.equal(clientAddress(undefined, undefined, trusted), '?');
});

test('limits count an IPv4 client by its address and an IPv6 one by its /64', () => {
  assert.equal(clientKey('198.51.100.7'), '198.51.100.7');
  assert.equal(clientKey('::ffff:198.51.100.7'), '198.51.100.7');
  for (const a of ['2001:db8:1:2::1', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0:0:0:9']) assert.equal(clientKey(a), '2001:db8:1:2::/64', a);
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.notEqual(clientKey('2001:db8:1:3::1'), clientKey('2001:db8:1:2::1'));
});
