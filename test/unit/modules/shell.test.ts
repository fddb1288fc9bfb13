import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAjv } from '../../../src/json-schema.js';
import { shell, shellArgv } from '../../../modules/shell.js';

test('shell runs its script as one argv word of sh -c (or the chosen executable)', () => {
  assert.deepEqual(shellArgv({ cmd: 'a | b' }), ['/bin/sh', '-c', 'a | b']);
  assert.deepEqual(shellArgv({ cmd: 'set -o pipefail; a | b', executable: '/bin/bash' }), ['/bin/bash', '-c', 'set -o pipefail; a | b']);
});

test('shell schema: cmd required, argv is not an option', () => {
  const v = createAjv().compile(shell.schema);
  assert.ok(v({ cmd: 'echo hi | wc -c', chdir: '/tmp', creates: '/x', env: { A: 'b' }, executable: '/bin/bash' }));
  assert.ok(!v({ argv: ['ls'] }));
  assert.ok(!v({}));
  assert.equal(shell.freeForm, 'cmd');
});
