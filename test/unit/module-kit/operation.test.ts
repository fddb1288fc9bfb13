import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { runAction, runOperation } from '../../../src/module-kit/operation.js';

/** An operation that wants `want` where the facts say `have`; records whether it applied. */
function counter() {
  const applied: number[] = [];
  const run = runOperation<{ want: number; failWith?: string }, { have: number } | undefined, { to?: number; error?: string }>({
    read: async (_ctx, p) => (p.want < 0 ? { result: { changed: false, msg: 'nothing to read' } } : { have: 1 }),
    decide: (p, f) => (p.want > 100 ? { error: 'too big' } : p.want === f!.have ? {} : { to: p.want }),
    changed: (d) => d.to !== undefined,
    apply: async (_ctx, p, d) => (applied.push(d.to!), p.failWith),
    failure: (_p, err) => `counter: ${err}`,
    result: (_ctx, _p, d, f, changed) => ({ changed, msg: changed ? `${f!.have} -> ${d.to}` : 'up to date' }),
  });
  return { run, applied };
}

const ctx = (check: boolean) => ({ check, diff: false }) as ModuleContext;

test('an operation: check mode decides but never applies; the real run applies only a change', async () => {
  const c = counter();
  assert.deepEqual(await c.run(ctx(true), { want: 5 }), { changed: true, msg: '1 -> 5' });
  assert.deepEqual(c.applied, [], 'check mode applied nothing');
  assert.deepEqual(await c.run(ctx(false), { want: 5 }), { changed: true, msg: '1 -> 5' });
  assert.deepEqual(c.applied, [5]);
  assert.deepEqual(await c.run(ctx(false), { want: 1 }), { changed: false, msg: 'up to date' });
  assert.deepEqual(c.applied, [5], 'no change, nothing applied');
});

test('an operation: a decision error or an apply error fails the task; a read may end it', async () => {
  const c = counter();
  assert.deepEqual(await c.run(ctx(false), { want: 500 }), { changed: false, failed: true, msg: 'too big' });
  assert.deepEqual(await c.run(ctx(false), { want: 7, failWith: 'disk full' }), { changed: false, failed: true, msg: 'counter: disk full' });
  assert.deepEqual(await c.run(ctx(false), { want: -1 }), { changed: false, msg: 'nothing to read' });
  assert.deepEqual(c.applied, [7]);
});

test('an action: check mode says what it would do and never acts; a probe is skipped; a refusal fails first', async () => {
  const acted: string[] = [];
  const action = (probe: boolean) => runAction<{ name: string }>({
    refuse: (p) => (p.name ? undefined : 'a name is needed'),
    would: (p) => `restart ${p.name}`,
    probe,
    act: async (_ctx, p) => (acted.push(p.name), { changed: !probe, msg: `restarted ${p.name}` }),
  });
  assert.deepEqual(await action(false)(ctx(true), { name: 'web' }), { changed: true, msg: 'would restart web' });
  assert.deepEqual(await action(true)(ctx(true), { name: 'web' }), { changed: false, skipped: true, msg: 'would restart web' });
  assert.deepEqual(acted, [], 'check mode acted on nothing');
  assert.deepEqual(await action(false)(ctx(false), { name: '' }), { changed: false, failed: true, msg: 'a name is needed' });
  assert.deepEqual(await action(false)(ctx(false), { name: 'web' }), { changed: true, msg: 'restarted web' });
  assert.deepEqual(acted, ['web']);
});
