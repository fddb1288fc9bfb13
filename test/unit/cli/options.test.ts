import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseExtraVars } from '../../../src/cli/options.js';

test('extra vars: k=v pairs, JSON, @file; later wins', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flight-')), 'v.yml');
  fs.writeFileSync(file, 'app: fromfile\nlist: [1, 2]\n');
  assert.deepEqual(parseExtraVars(['app=myapp sha=1a2b3c']), { app: 'myapp', sha: '1a2b3c' });
  assert.deepEqual(parseExtraVars(['{"n": 3}']), { n: 3 });
  assert.deepEqual(parseExtraVars([`@${file}`, 'app=override']), { app: 'override', list: [1, 2] });
  assert.throws(() => parseExtraVars(['novalue']), /expected key=value/);
  assert.throws(() => parseExtraVars(['1bad=x']), /not a valid variable name/);
});

test('the extra vars Flight\'s playbooks read are checked by their kind', () => {
  assert.deepEqual(parseExtraVars(['app=shop sha=1a2b3c to=A']), { app: 'shop', sha: '1a2b3c', to: 'A' });
  assert.throws(() => parseExtraVars(['sha=$(id)']), /-e sha: "\$\(id\)" is not valid: expected a commit sha/);
  assert.throws(() => parseExtraVars(['app=../shop']), /-e app: "\.\.\/shop" is not valid: expected an app name/);
  assert.throws(() => parseExtraVars(['{"cluster": "a b"}']), /-e cluster: "a b" is not valid/);
  assert.throws(() => parseExtraVars(['{"server": 3}']), /-e server: 3 is not valid/);
});
