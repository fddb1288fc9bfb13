import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { authorize, bearerToken, hashToken, newToken, sameHash, TokenFile } from '../../../src/serve/tokens.js';

test('tokens: random, long, and stored as their sha256 hex', () => {
  const a = newToken();
  const b = newToken();
  assert.notEqual(a, b);
  assert.match(a, /^flt_[A-Za-z0-9_-]{43}$/);
  assert.equal(hashToken(a), createHash('sha256').update(a).digest('hex'));
  // The form flight.yml documents: printf %s "$TOKEN" | sha256sum
  assert.equal(hashToken('test'), '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
});

test('sameHash: equal digests only; malformed input never matches', () => {
  const h = hashToken('x');
  assert.equal(sameHash(h, h), true);
  assert.equal(sameHash(h, hashToken('y')), false);
  const zeros = '0'.repeat(64);
  for (const bad of ['', 'zz', h.toUpperCase(), h.slice(1), `${h}0`, 'g'.repeat(64)]) {
    assert.equal(sameHash(bad, zeros), false, bad);
    assert.equal(sameHash(zeros, bad), false, bad);
    assert.equal(sameHash(bad, bad), false, bad);
  }
});

test('bearerToken: only a well-formed Bearer header', () => {
  const table: Array<[string | undefined, string | undefined]> = [
    ['Bearer abc', 'abc'],
    ['bearer abc', 'abc'],
    ['Bearer   abc  ', 'abc'],
    [undefined, undefined],
    ['', undefined],
    ['Basic abc', undefined],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Bearer \u00e9', undefined],
    [`Bearer ${'a'.repeat(600)}`, undefined],
  ];
  for (const [header, want] of table) assert.equal(bearerToken(header), want, String(header));
});

test('authorize: ok, missing, wrong, and another app\'s token', () => {
  const shop = newToken();
  const blog = newToken();
  const hashes: Array<[string, string]> = [['shop', hashToken(shop)], ['blog', hashToken(blog)]];
  assert.equal(authorize('shop', shop, hashes), 'ok');
  assert.equal(authorize('shop', undefined, hashes), 'missing');
  assert.equal(authorize('shop', 'nope', hashes), 'wrong');
  assert.equal(authorize('shop', blog, hashes), 'other-app');
  assert.equal(authorize('nohash', shop, hashes), 'other-app');
  assert.equal(authorize('nohash', 'x', hashes), 'wrong');
  // Two hashes for one app (flight.yml and the data dir): either works.
  const second = newToken();
  assert.equal(authorize('shop', second, [...hashes, ['shop', hashToken(second)]]), 'ok');
});

test('TokenFile: mode 0600, survives rewrites, picks up changes by another process', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-tokens-'));
  try {
    const f = TokenFile.in(path.join(dir, 'data'));
    assert.deepEqual(f.read(), {});
    f.set('shop', hashToken('a'));
    f.set('blog', hashToken('b'));
    assert.equal(fs.statSync(f.file).mode & 0o777, 0o600);
    assert.deepEqual(Object.keys(f.read()).sort(), ['blog', 'shop']);
    f.set('shop', undefined);
    assert.deepEqual(Object.keys(f.read()), ['blog']);
    // Another process (token:create) rewrites the file: the next read sees it.
    const other = TokenFile.in(path.join(dir, 'data'));
    other.set('shop', hashToken('c'));
    assert.equal(f.read().shop, hashToken('c'));
    // No temp files left behind.
    assert.deepEqual(fs.readdirSync(path.join(dir, 'data')), ['tokens.json']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('TokenFile: a hand-broken file is refused without quoting any of it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-tokens-'));
  try {
    const f = TokenFile.in(dir);
    const pasted = newToken();
    fs.writeFileSync(f.file, `{\n  "shop": "${hashToken('a')}",\n  "blog": ${pasted}\n}\n`);
    assert.throws(() => f.read(), (err: Error) => {
      assert.match(err.message, new RegExp(`^${f.file}: not valid JSON`));
      assert.ok(!err.message.includes(pasted.slice(4, 12)));
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
