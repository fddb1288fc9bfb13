import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseExtraVars, parsePlayOptions } from '../../src/cli/options.js';

test('extra vars: k=v pairs, JSON, @file; later wins', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flight-')), 'v.yml');
  fs.writeFileSync(file, 'app: fromfile\nlist: [1, 2]\n');
  assert.deepEqual(parseExtraVars(['app=myapp sha=1a2b3c']), { app: 'myapp', sha: '1a2b3c' });
  assert.deepEqual(parseExtraVars(['{"n": 3}']), { n: 3 });
  assert.deepEqual(parseExtraVars([`@${file}`, 'app=override']), { app: 'override', list: [1, 2] });
  assert.throws(() => parseExtraVars(['novalue']), /expected key=value/);
  assert.throws(() => parseExtraVars(['1bad=x']), /not a valid variable name/);
});

test('play options: verbosity counts, lists split, bad values rejected', () => {
  const o = parsePlayOptions(['release.yml', '-vv', '--tags', 'a,b', '-t', 'c', '--check', '-e', 'app=x', '--forks', '5']);
  assert.equal(o.verbosity, 2);
  assert.deepEqual(o.tags, ['a', 'b', 'c']);
  assert.equal(o.check, true);
  assert.equal(o.forks, 5);
  assert.deepEqual(o.positional, ['release.yml']);
  assert.throws(() => parsePlayOptions(['x', '--forks', '0']), /--forks/);
  assert.throws(() => parsePlayOptions(['x', '--host-key-policy', 'yolo']), /--host-key-policy/);
});
