import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAjv } from '../../../src/json-schema.js';
import { fetch, localDest, planFetch } from '../../../modules/fetch.js';

test('fetch: dest ending in / is a directory taking the source basename', () => {
  assert.equal(localDest('out/', '/home/app/shared/.env'), 'out/.env');
  assert.equal(localDest('out/app.env', '/home/app/shared/.env'), 'out/app.env');
});

test('fetch: transfer only when the content differs; fix only the mode otherwise', () => {
  assert.deepEqual(planFetch('aa', {}, 0o600), { transfer: true, chmod: false });
  assert.deepEqual(planFetch('aa', { sha256: 'bb', mode: 0o600 }, 0o600), { transfer: true, chmod: false });
  assert.deepEqual(planFetch('aa', { sha256: 'aa', mode: 0o600 }, 0o600), { transfer: false, chmod: false });
  assert.deepEqual(planFetch('aa', { sha256: 'aa', mode: 0o644 }, 0o600), { transfer: false, chmod: true });
});

test('fetch schema', () => {
  const v = createAjv().compile(fetch.schema);
  assert.ok(v({ src: '/home/app/shared/.env', dest: 'env/app.env', mode: '0600' }));
  assert.ok(!v({ src: 'relative', dest: 'x' }));
  assert.ok(!v({ src: '/x', dest: 'x', mode: 'rw' }));
  assert.ok(!v({ src: '/x', dest: 'x', flat: true }));
});
