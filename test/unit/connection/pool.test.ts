import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argv } from '../../../src/command.js';
import { ConnectionPool, LocalConnection, openConnection } from '../../../src/connection/index.js';
import type { Host } from '../../../src/inventory/types.js';

const localHost = (name: string): Host => ({
  name,
  address: '127.0.0.1',
  connection: 'local',
  ssh: { user: 'nobody', port: 22, hostKeyPolicy: 'strict', connectTimeout: 5 },
  vars: {},
  groups: ['all'],
});

describe('connection pool without SSH', () => {
  it('hands out one local connection per host, even to concurrent callers', async () => {
    const pool = new ConnectionPool();
    const [a, b, c] = await Promise.all([pool.get(localHost('localhost')), pool.get(localHost('localhost')), pool.get(localHost('other'))]);
    assert.ok(a instanceof LocalConnection);
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.equal(a.hostName, 'localhost');
    assert.equal(c.hostName, 'other');
    assert.equal(pool.opened, 0, 'local connections are not SSH connections');
    assert.equal((await a.exec(argv('echo', 'hi'))).stdout, 'hi\n');
    await pool.closeAll();
  });

  it('openConnection gives a local host a LocalConnection', async () => {
    const c = await openConnection(localHost('localhost'));
    assert.ok(c instanceof LocalConnection);
    await c.close();
  });
});
