/**
 * fpm_opcache's pure parts: how full a cache is, the reload decision, the warm-up's budget
 * decision (and the worker script's copy of it, when PHP is installed here), the task message;
 * and the relay on the command line against a stand-in FastCGI server on a unix socket, so the
 * whole client path runs without PHP-FPM.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  budgetStop,
  fpm_opcache,
  describeWarmup,
  MB,
  opcacheUsage,
  reloadDecision,
  type BudgetState,
  type OpcacheNumbers,
  type WarmupReport,
} from '../../../modules/fpm_opcache.js';
import { askPool, WORKER_FILE } from '../../../src/module-kit/fpm-pool.js';
import { LocalConnection } from '../../../src/connection/local.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { decodeNameValuePairs, decodeRecords, encodeRecord, FCGI } from '../../../src/module-kit/fastcgi.js';

function numbers(over: Partial<OpcacheNumbers> = {}): OpcacheNumbers {
  return {
    enabled: true,
    cache_full: false,
    restart_pending: false,
    memory: { used: 64 * MB, free: 192 * MB, wasted: 0 },
    interned: { used: 4 * MB, size: 32 * MB },
    scripts: 1000,
    keys: 1500,
    max_keys: 65407,
    hits: 10,
    misses: 1,
    start_time: 1,
    last_restart_time: 0,
    oom_restarts: 0,
    hash_restarts: 0,
    manual_restarts: 0,
    validate_timestamps: true,
    ...over,
  };
}

test('OPcache use is its fullest resource; wasted memory counts as used; a full cache is 100%', () => {
  const u = opcacheUsage(numbers());
  assert.equal(u.by, 'memory');
  assert.equal(u.percent, 25);
  assert.equal(opcacheUsage(numbers({ memory: { used: 64 * MB, free: 128 * MB, wasted: 64 * MB } })).percent, 50);
  const keys = opcacheUsage(numbers({ keys: 60_000, max_keys: 65_407 }));
  assert.equal(keys.by, 'keys');
  assert.ok(keys.percent > 91 && keys.percent < 92);
  assert.equal(opcacheUsage(numbers({ interned: { used: 31 * MB, size: 32 * MB } })).by, 'interned strings');
  assert.deepEqual(
    [opcacheUsage(numbers({ cache_full: true })).percent, opcacheUsage(numbers({ cache_full: true })).by],
    [100, 'memory'],
  );
  // Nothing allocated at all (a cache of size 0): 0%, not NaN.
  assert.equal(opcacheUsage(numbers({ memory: { used: 0, free: 0, wasted: 0 }, interned: { used: 0, size: 0 }, keys: 0, max_keys: 0 })).percent, 0);
});

test('reload at or above the threshold: 0 always reloads, 100 only a full cache; no OPcache, no reload', () => {
  const cases: Array<[OpcacheNumbers | null, number, boolean]> = [
    [numbers(), 0, true],
    [numbers(), 25, true],
    [numbers(), 25.01, false],
    [numbers(), 75, false],
    [numbers(), 100, false],
    [numbers({ cache_full: true }), 100, true],
    [numbers({ memory: { used: 200 * MB, free: 16 * MB, wasted: 40 * MB } }), 75, true],
    [numbers({ enabled: false }), 0, false],
    [null, 0, false],
  ];
  for (const [n, threshold, want] of cases) {
    const d = reloadDecision(n, threshold);
    assert.equal(d.reload, want, `${JSON.stringify(n?.memory)} at ${threshold}%: ${d.why}`);
  }
  assert.match(reloadDecision(numbers(), 75).why, /^OPcache 25\.0% \(memory\) is under the 75% threshold$/);
  assert.match(reloadDecision(numbers(), 0).why, /is at or above the 0% threshold/);
});

/** [state, expected]: the order of the checks matters when several limits are hit at once. */
const BASE: BudgetState = { free: 100 * MB, used: 0, estimate: MB, floor: 32 * MB, budget: 64 * MB, keys: 10, max_keys: 100, elapsed_ms: 0, limit_ms: 20_000 };
const BUDGET_TABLE: Array<[Partial<BudgetState>, ReturnType<typeof budgetStop>]> = [
  [{}, null],
  // Free memory: stop before it would go under the floor, not after.
  [{ free: 33 * MB }, null],
  [{ free: 33 * MB - 1 }, 'floor'],
  [{ free: 10 * MB }, 'floor'],
  [{ floor: 0, free: MB }, null],
  [{ floor: 0, free: MB - 1 }, 'floor'],
  // The warm-up's own budget: up to and including it.
  [{ used: 63 * MB }, null],
  [{ used: 63 * MB + 1 }, 'budget'],
  [{ used: 64 * MB, estimate: 0 }, null],
  // Keys and time.
  [{ keys: 99 }, null],
  [{ keys: 100 }, 'keys'],
  [{ elapsed_ms: 19_999 }, null],
  [{ elapsed_ms: 20_000 }, 'time'],
  // Several at once: time, then keys, then the floor, then the budget.
  [{ elapsed_ms: 20_000, keys: 100, free: 0, used: 64 * MB }, 'time'],
  [{ keys: 100, free: 0, used: 64 * MB }, 'keys'],
  [{ free: 0, used: 64 * MB }, 'floor'],
];

test('the warm-up budget: stop before the floor, within the budget, at no key left or out of time', () => {
  for (const [over, want] of BUDGET_TABLE) assert.equal(budgetStop({ ...BASE, ...over }), want, JSON.stringify(over));
});

const php = spawnSync('php', ['-v']).status === 0 ? 'php' : undefined;

test('the worker script decides the budget the same way (flight_budget_stop)', { skip: php ? false : 'no php on this machine' }, () => {
  const states = BUDGET_TABLE.map(([over]) => ({ ...BASE, ...over }));
  const out = execFileSync(php!, ['-n', '-r', 'require $argv[1]; echo json_encode(array_map("flight_budget_stop", json_decode($argv[2], true)));', '--', WORKER_FILE, JSON.stringify(states)], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out), BUDGET_TABLE.map(([, want]) => want));
});

test('the worker script: valid PHP that does nothing on the command line; release files in order', { skip: php ? false : 'no php on this machine' }, () => {
  assert.match(execFileSync(php!, ['-n', '-l', WORKER_FILE], { encoding: 'utf8' }), /No syntax errors/);
  assert.equal(execFileSync(php!, ['-n', WORKER_FILE], { encoding: 'utf8' }), '');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-warm-'));
  try {
    const files = ['public/index.php', 'app/A.php', 'vendor/autoload.php', 'vendor/composer/autoload_real.php', 'vendor/acme/lib/src/B.php', 'vendor/acme/lib/tests/BTest.php', 'app/readme.txt', 'node_modules/x/y.php', '.git/hooks/z.php'];
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      fs.writeFileSync(path.join(dir, f), '<?php\n');
    }
    fs.mkdirSync(path.join(dir, 'shared-elsewhere'));
    fs.writeFileSync(path.join(dir, 'shared-elsewhere', 'S.php'), '<?php\n');
    fs.mkdirSync(path.join(dir, 'storage'));
    fs.symlinkSync(path.join(dir, 'shared-elsewhere'), path.join(dir, 'storage', 'linked'));
    fs.symlinkSync(path.join(dir, 'app', 'A.php'), path.join(dir, 'link.php'));
    const out = execFileSync(php!, ['-n', '-r', 'require $argv[1]; echo json_encode(array_keys(flight_candidates($argv[2], null)));', '--', WORKER_FILE, dir], { encoding: 'utf8' });
    const rel = (JSON.parse(out) as string[]).map((p) => p.slice(dir.length + 1));
    // Composer's autoloader first (every request loads it), then the app's own files, then
    // vendor/; never tests, node_modules, .git, non-PHP files or symbolic links.
    assert.deepEqual(rel.slice(0, 2).sort(), ['vendor/autoload.php', 'vendor/composer/autoload_real.php']);
    assert.deepEqual(rel.slice(2, 5).sort(), ['app/A.php', 'public/index.php', 'shared-elsewhere/S.php']);
    assert.deepEqual(rel.slice(5), ['vendor/acme/lib/src/B.php']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const report = (over: Partial<WarmupReport> = {}): WarmupReport => ({
  ok: true, candidates: 500, compiled: 412, already_cached: 0, not_cached: 0, failed: 0, left: 0, stopped: null,
  bytes: 5.25 * MB, ms: 870, errors: [], status: numbers(), ...over,
});

test('the warm-up is an action: refused without a release, in check mode only said, never sent', async () => {
  let sent = 0;
  const ctx = (check: boolean) => ({ check, exec: async () => (sent++, { code: 3, stdout: '', stderr: 'no pool' }) }) as unknown as ModuleContext;
  const p = { action: 'warmup', socket: '/run/php/shop.sock', php: '8.2', dir: '/home/shop/.flight', group: 'shop' } as const;
  assert.deepEqual(await fpm_opcache.run(ctx(false), p), { changed: false, failed: true, msg: 'action warmup needs `release` (the release folder)' });
  assert.deepEqual(await fpm_opcache.run(ctx(true), { ...p, release: '/home/shop/releases/2', budget_mb: 16 }), {
    changed: true, msg: 'would compile the PHP files of /home/shop/releases/2 into OPcache through /run/php/shop.sock (at most 16 MB, keeping 32 MB free)',
  });
  assert.equal(sent, 0);
  assert.deepEqual(await fpm_opcache.run(ctx(false), { ...p, release: '/home/shop/releases/2' }), { changed: false, failed: true, msg: '/run/php/shop.sock: no pool' });
  assert.equal(sent, 1, 'a real run asks the pool');
});

test('the warm-up message: files compiled and memory used first, then anything unusual', () => {
  const limits = { budget: 64, floor: 32 };
  assert.equal(describeWarmup(report(), limits), 'compiled 412 PHP files into OPcache (5.3 MB) in 0.9 s; OPcache 25% used');
  assert.equal(
    describeWarmup(report({ compiled: 1, already_cached: 40, failed: 2, errors: ['vendor/x.php: syntax error'], stopped: 'budget', left: 300 }), limits),
    'compiled 1 PHP file into OPcache (5.3 MB) in 0.9 s, 40 already cached, 2 failed to compile (vendor/x.php: syntax error); stopped at the 64 MB budget, 300 files left; OPcache 25% used',
  );
  assert.match(describeWarmup(report({ stopped: 'floor', left: 1 }), limits), /stopped to keep 32 MB of OPcache free, 1 file left/);
  assert.match(describeWarmup(report({ not_cached: 3, not_cached_files: ['config/app.php'] }), limits), /, 3 not cached \(config\/app\.php\);/);
});

/**
 * A stand-in for PHP-FPM: reads one FastCGI request from a unix socket, checks what a pool would
 * need (the script exists, readable by the group, not by others), answers like FPM.
 */
function fakePool(sock: string, answer: (params: Record<string, string>, body: string) => Buffer) {
  const seen: Array<{ params: Record<string, string>; body: string; mode: number }> = [];
  const server = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const { records } = decodeRecords(buf);
      const stdin = records.filter((r) => r.type === FCGI.STDIN);
      if (!stdin.length || stdin[stdin.length - 1]!.content.length !== 0) return;
      const params = decodeNameValuePairs(Buffer.concat(records.filter((r) => r.type === FCGI.PARAMS).map((r) => r.content)));
      const body = Buffer.concat(stdin.map((r) => r.content)).toString();
      const mode = fs.statSync(params.SCRIPT_FILENAME!).mode & 0o777;
      seen.push({ params, body, mode });
      c.end(answer(params, body));
    });
  });
  return new Promise<{ seen: typeof seen; close: () => Promise<void> }>((resolve) =>
    server.listen(sock, () => resolve({ seen, close: () => new Promise((r) => server.close(() => r())) })),
  );
}

const endRequest = () => encodeRecord(FCGI.END_REQUEST, 1, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));

test('the relay: writes the worker 0640, sends the request, returns the answer, removes the worker', { skip: fs.existsSync('/usr/bin/php8.2') ? false : 'no /usr/bin/php8.2 here' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-relay-'));
  const sock = path.join(dir, 'pool.sock');
  const pool = await fakePool(sock, (_params, body) =>
    Buffer.concat([
      encodeRecord(FCGI.STDOUT, 1, Buffer.from(`Content-Type: application/json\r\n\r\n${JSON.stringify({ ok: true, echo: JSON.parse(body) })}`)),
      endRequest(),
    ]),
  );
  const conn = new LocalConnection();
  const group = execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim();
  try {
    const a = await askPool(conn, { socket: sock, php: '8.2', dir, group, timeout: 5 }, { action: 'status', x: 'é' });
    assert.deepEqual(a, { ok: true, json: { ok: true, echo: { action: 'status', x: 'é' } } });
    const [req] = pool.seen;
    assert.match(req!.params.SCRIPT_FILENAME!, new RegExp(`^${dir}/\\.flight-opcache-[0-9a-f]{16}\\.php$`));
    assert.equal(req!.mode, 0o640);
    assert.deepEqual(fs.readdirSync(dir), ['pool.sock'], 'the worker script is gone afterwards');

    // FPM's refusal, a pool that is not there, a pool that hangs up halfway.
    await pool.close();
    const refuse = await fakePool(sock, () =>
      Buffer.concat([encodeRecord(FCGI.STDERR, 1, Buffer.from('Primary script unknown')), encodeRecord(FCGI.STDOUT, 1, Buffer.from('Status: 404 Not Found\r\n\r\nFile not found.\n')), endRequest()]),
    );
    const r404 = await askPool(conn, { socket: sock, php: '8.2', dir, group }, { action: 'status' });
    assert.deepEqual(r404, { ok: false, msg: `${sock} answered 404: Primary script unknown (File not found.)` });
    await refuse.close();
    const none = await askPool(conn, { socket: path.join(dir, 'missing.sock'), php: '8.2', dir, group }, { action: 'status' });
    assert.equal(none.ok, false);
    assert.match((none as { msg: string }).msg, /cannot connect to .*missing\.sock/);
    const cut = await fakePool(sock, () => encodeRecord(FCGI.STDOUT, 1, Buffer.from('Content-Type: text/plain\r\n\r\n{"ok":')));
    const half = await askPool(conn, { socket: sock, php: '8.2', dir, group }, { action: 'status' });
    assert.match((half as { msg: string }).msg, /closed the connection before the end of its answer/);
    await cut.close();
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.php')), [], 'no worker left behind by a failed request');

    // The folder is the app's: one swapped for a link to elsewhere is refused, nothing written there.
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'flight-elsewhere-'));
    fs.symlinkSync(elsewhere, path.join(dir, 'linked'));
    const linked = await askPool(conn, { socket: sock, php: '8.2', dir: path.join(dir, 'linked'), group }, { action: 'status' });
    assert.match((linked as { msg: string }).msg, /linked is not a folder/);
    assert.deepEqual(fs.readdirSync(elsewhere), []);
    fs.rmSync(elsewhere, { recursive: true, force: true });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
