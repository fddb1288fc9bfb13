/** Writing clusters/<cluster>.servers.yml: checked before it lands, comments kept, gone when empty. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDefinitions } from '../../../src/definitions/index.js';
import { ProblemsError } from '../../../src/problems.js';
import { editRecord, readRecord, type AddedRecordData } from '../../../src/cluster/state-file.js';

function folder(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-state-'));
  fs.mkdirSync(path.join(dir, 'clusters'));
  fs.mkdirSync(path.join(dir, 'apps'));
  fs.writeFileSync(path.join(dir, 'clusters', 'lab.yml'), 'php: ["8.2"]\nservers:\n  - { name: web-1, host: 10.0.0.1, web_server: true }\n');
  fs.writeFileSync(path.join(dir, 'apps', 'shop.yml'), 'repo: /srv/shop\nphp: "8.2"\ndomain: shop.test\ncluster: lab\nservers:\n  - name: web-1\n');
  return dir;
}

const record = (name: string, host: string): AddedRecordData => ({
  name, host, web_server: true, ssh: { user: 'deploy', key: 'keys/deploy' }, like: 'web-1', status: 'joining', since: '2026-01-01T00:00:00Z', by: 'ann@box', pid: 7,
  apps: { shop: { joined: false, web: { max_workers: 10, min_spare_workers: 2, initial_workers: 3, max_spare_workers: 5 }, deploy_commands: [], queues: [], scheduler: false } },
});

test('records are added, changed and dropped; the header and hand-written comments stay; the file goes with the last', async () => {
  const dir = folder();
  const file = path.join(dir, 'clusters', 'lab.servers.yml');
  try {
    await editRecord(dir, 'lab', 'web-2', () => record('web-2', '10.0.0.2'));
    await editRecord(dir, 'lab', 'web-3', () => record('web-3', '10.0.0.3'));
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^# Servers added to cluster 'lab' by `flight server:add`/);
    assert.match(text, /ssh: \{ user: deploy, key: keys\/deploy \}/, 'short mappings on one line');
    fs.writeFileSync(file, text.replace('  - name: web-3', '  # kept by hand\n  - name: web-3'));

    await editRecord(dir, 'lab', 'web-2', (r) => ({ ...r!, status: 'ready', apps: { shop: { ...r!.apps.shop!, joined: true } } }));
    assert.equal(readRecord(dir, 'lab', 'web-2')!.status, 'ready');
    assert.match(fs.readFileSync(file, 'utf8'), /# kept by hand\n {2}- name: web-3/);
    const defs = await loadDefinitions(dir);
    assert.deepEqual(defs.apps.get('shop')!.servers.map((s) => s.name), ['web-1', 'web-2']);
    assert.equal(defs.added.find((s) => s.name === 'web-2')!.ssh.key, path.join(dir, 'keys/deploy'), 'relative paths resolve from the folder');

    await editRecord(dir, 'lab', 'web-2', () => null);
    assert.equal(readRecord(dir, 'lab', 'web-2'), undefined);
    await editRecord(dir, 'lab', 'web-3', () => null);
    assert.ok(!fs.existsSync(file));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a change after which the definitions would not load is refused, with positions, and not written', async () => {
  const dir = folder();
  try {
    await editRecord(dir, 'lab', 'web-2', () => record('web-2', '10.0.0.2'));
    const before = fs.readFileSync(path.join(dir, 'clusters', 'lab.servers.yml'), 'utf8');
    await assert.rejects(editRecord(dir, 'lab', 'web-3', () => record('web-3', '10.0.0.1')), (e: unknown) => {
      assert.ok(e instanceof ProblemsError);
      assert.match(e.message, /not writing clusters\/lab\.servers\.yml: the definitions would not load/);
      assert.match(e.message, /clusters\/lab\.servers\.yml:\d+:\d+: servers\[1\]\.host: duplicate host 10\.0\.0\.1 \(port 22\): also server 'web-1'/);
      return true;
    });
    assert.equal(fs.readFileSync(path.join(dir, 'clusters', 'lab.servers.yml'), 'utf8'), before);
    // An app file naming the server: dropping its record would break it, so a dry run refuses.
    fs.writeFileSync(path.join(dir, 'apps', 'blog.yml'), 'repo: /srv/blog\nphp: "8.2"\ndomain: blog.test\ncluster: lab\nservers:\n  - name: web-2\n');
    await assert.rejects(editRecord(dir, 'lab', 'web-2', () => null, { dryRun: true }), /apps\/blog\.yml:6:11: servers\[0\]\.name: server 'web-2' is not in cluster 'lab'/);
    assert.ok(readRecord(dir, 'lab', 'web-2'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
