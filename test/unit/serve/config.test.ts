import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDefinitions } from '../../../src/definitions/index.js';
import { DeployServer } from '../../../src/serve/server.js';

function defsWith(flightYml: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-serve-defs-'));
  fs.mkdirSync(path.join(dir, 'clusters'));
  fs.mkdirSync(path.join(dir, 'apps'));
  fs.writeFileSync(path.join(dir, 'flight.yml'), flightYml);
  fs.writeFileSync(path.join(dir, 'clusters', 'c.yml'), 'php: ["8.2"]\nservers:\n  - { name: s-1, host: 127.0.0.9 }\n');
  fs.writeFileSync(path.join(dir, 'apps', 'shop.yml'), 'repo: git@github.com:acme/shop.git\nphp: "8.2"\ndomain: shop.test\ncluster: c\nbranch: production\nservers:\n  - name: s-1\n');
  return dir;
}

test('flight.yml serve.github: strict schema, secret_file relative to the definitions', async () => {
  const ok = defsWith('serve:\n  github:\n    shop: { secret_file: secrets/shop-hook }\n');
  const defs = await loadDefinitions(ok);
  assert.deepEqual(defs.config.serve.github, { shop: { secret_file: path.join(ok, 'secrets', 'shop-hook') } });
  const typo = defsWith('serve:\n  github:\n    shop: { secret_env: X, brnach: main }\n');
  await assert.rejects(loadDefinitions(typo), /brnach/);
  const hash = defsWith('serve:\n  tokens:\n    shop: not-a-hash\n');
  await assert.rejects(loadDefinitions(hash), /sha256/);
  for (const d of [ok, typo, hash]) fs.rmSync(d, { recursive: true, force: true });
});

test('the server refuses to start with a webhook it cannot verify', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-serve-data-'));
  const start = (dir: string) => DeployServer.start({ defsDir: dir, dataDir: data, host: '127.0.0.1', port: 0, drainTimeoutMs: 10, say: () => undefined });
  const cases: Array<[string, RegExp]> = [
    ['serve:\n  github:\n    shop: { secret_env: FLIGHT_TEST_UNSET_SECRET }\n', /FLIGHT_TEST_UNSET_SECRET.*empty or unset/],
    ['serve:\n  github:\n    shop: { secret_env: A, secret_file: /b }\n', /exactly one of secret_env and secret_file/],
    ['serve:\n  github:\n    shop: {}\n', /exactly one of secret_env and secret_file/],
    ['serve:\n  github:\n    blog: { secret_env: A }\n', /no app 'blog'/],
  ];
  delete process.env.FLIGHT_TEST_UNSET_SECRET;
  for (const [yml, want] of cases) {
    const dir = defsWith(yml);
    await assert.rejects(start(dir), want);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // With the secret there it starts; the branch defaults to the app's.
  process.env.FLIGHT_TEST_SET_SECRET = 'x';
  const dir = defsWith('serve:\n  github:\n    shop: { secret_env: FLIGHT_TEST_SET_SECRET }\n');
  const s = await start(dir);
  try {
    assert.deepEqual((s as unknown as { webhooks: { hooks: unknown[] } }).webhooks.hooks, [{ app: 'shop', secret: 'x', branch: 'production', repository: 'acme/shop' }]);
  } finally {
    await s.stop();
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(data, { recursive: true, force: true });
});
