/**
 * The app file's `opcache_warmup` key: off when absent or false, the defaults for `true`, the
 * defaults under what a mapping leaves out, and bad values refused with the file, line, key and
 * what was expected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkDefinitions } from '../../../src/definitions/index.js';
import { DEFAULT_OPCACHE_WARMUP } from '../../../src/definitions/schemas/app.js';
import { toOpcacheWarmup } from '../../../src/definitions/normalize.js';
import { formatProblem } from '../../../src/problems.js';

const CLUSTER = `php: ["8.2"]
request_duration: 30
request_payload: 10
request_memory: 256
servers:
  - name: web-1
    host: 127.0.0.2
    web_server: true
`;

/** An app file with `extra` as its last top-level lines. */
const app = (extra: string) => `repo: git@example.com:org/opc.git
php: "8.2"
domain: opc.flight.test
cluster: lab
servers:
  - name: web-1
${extra}`;

function load(extra: string) {
  return checkDefinitions('/defs', [
    { file: 'clusters/lab.yml', text: CLUSTER },
    { file: 'apps/opc.yml', text: app(extra) },
  ]);
}

test('opcache_warmup: absent or false is off, true is the defaults, a mapping fills in the rest', () => {
  const cases: Array<[string, unknown]> = [
    ['', null],
    ['opcache_warmup: false\n', null],
    ['opcache_warmup: true\n', { budget_mb: 64, min_free_mb: 32, timeout: 20 }],
    ['opcache_warmup: {}\n', { budget_mb: 64, min_free_mb: 32, timeout: 20 }],
    ['opcache_warmup:\n  budget_mb: 128\n', { budget_mb: 128, min_free_mb: 32, timeout: 20 }],
    ['opcache_warmup: { budget_mb: 16, min_free_mb: 0, timeout: 2.5 }\n', { budget_mb: 16, min_free_mb: 0, timeout: 2.5 }],
  ];
  for (const [extra, want] of cases) {
    const r = load(extra);
    assert.deepEqual(r.problems.map(formatProblem), [], extra);
    assert.deepEqual(r.definitions!.apps.get('opc')!.opcache_warmup, want, extra || '(absent)');
  }
  assert.deepEqual(DEFAULT_OPCACHE_WARMUP, { budget_mb: 64, min_free_mb: 32, timeout: 20 });
});

test('toOpcacheWarmup does not share the defaults object', () => {
  const a = toOpcacheWarmup(true)!;
  a.budget_mb = 1;
  assert.equal(toOpcacheWarmup(true)!.budget_mb, 64);
});

test('opcache_warmup: bad values name the file, line, key and what is expected', () => {
  const cases: Array<[string, RegExp]> = [
    ['opcache_warmup: yes please\n', /^apps\/opc\.yml:7:17: opcache_warmup: must be true or false or a mapping with budget_mb, min_free_mb, timeout/],
    ['opcache_warmup:\n  budget: 64\n', /^apps\/opc\.yml:8:3: opcache_warmup: unknown key 'budget' \(expected one of: budget_mb, min_free_mb, timeout\)/],
    ['opcache_warmup:\n  budget_mb: 0\n', /^apps\/opc\.yml:8:14: opcache_warmup\.budget_mb: must be MB of OPcache memory the warm-up may use \(integer >= 1\)/],
    ['opcache_warmup:\n  min_free_mb: -1\n', /^apps\/opc\.yml:8:16: opcache_warmup\.min_free_mb: must be MB of OPcache memory to leave free/],
    ['opcache_warmup:\n  timeout: 0\n', /^apps\/opc\.yml:8:12: opcache_warmup\.timeout: must be a number of seconds > 0/],
  ];
  for (const [extra, want] of cases) {
    const r = load(extra);
    const lines = r.problems.map(formatProblem);
    assert.ok(r.definitions === undefined || lines.length > 0, extra);
    assert.ok(lines.some((l) => want.test(l)), `${extra.trim()}\n  want ${want}\n  got:\n    ${lines.join('\n    ')}`);
  }
});

test('auto_rollback: off when absent; defaults under what the mapping leaves out; bad values located', () => {
  assert.equal(load('').definitions!.apps.get('opc')!.auto_rollback, null);
  assert.deepEqual(load('auto_rollback: { error_rate: 0.05 }\n').definitions!.apps.get('opc')!.auto_rollback, { error_rate: 0.05, window: 900, min_requests: 0 });
  assert.deepEqual(load('auto_rollback:\n  error_rate: 1\n  window: 60\n  min_requests: 20\n').definitions!.apps.get('opc')!.auto_rollback, { error_rate: 1, window: 60, min_requests: 20 });
  const cases: Array<[string, RegExp]> = [
    ['auto_rollback: { window: 60 }\n', /^apps\/opc\.yml:7:16: auto_rollback: missing required key 'error_rate'/],
    ['auto_rollback:\n  error_rate: 5%\n', /^apps\/opc\.yml:8:15: auto_rollback\.error_rate: must be the fraction of failing requests that triggers a rollback, > 0 and <= 1 \(0\.05 for 5%\)/],
    ['auto_rollback:\n  error_rate: 0\n', /auto_rollback\.error_rate: must be the fraction/],
    ['auto_rollback:\n  error_rate: 0.1\n  window: 1.5\n', /^apps\/opc\.yml:9:11: auto_rollback\.window: must be seconds after a release/],
    ['auto_rollback:\n  error_rate: 0.1\n  treshold: 3\n', /auto_rollback: unknown key 'treshold' \(expected one of: error_rate, window, min_requests\)/],
  ];
  for (const [extra, want] of cases) {
    const lines = load(extra).problems.map(formatProblem);
    assert.ok(lines.some((l) => want.test(l)), `${extra.trim()}\n  want ${want}\n  got:\n    ${lines.join('\n    ')}`);
  }
});
