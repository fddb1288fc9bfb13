import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluate, renderString, renderValue } from '../../src/templating.js';
import { FlightError } from '../../src/errors.js';

test('renders strings with variables and filters', () => {
  assert.equal(renderString('/home/{{ app }}/current', { app: 'shop' }, 't'), '/home/shop/current');
  assert.equal(renderString('{{ v | quote }}', { v: "it's" }, 't'), `'it'\\''s'`);
  assert.equal(renderString('no expressions', {}, 't'), 'no expressions');
  assert.equal(renderString('{{ c | artisan(v) }}', { c: 'artisan config:cache', v: '8.2' }, 't'), '/usr/bin/php8.2 artisan config:cache');
  assert.equal(renderString('{{ c | artisan(v) }}', { c: 'npm run build', v: '8.2' }, 't'), 'npm run build', 'other commands as written');
  const queues = [{ name: 'default', wait: 60 }, { name: 'mail', wait: 90 }];
  assert.deepEqual(renderValue("{{ q | map(attribute='name') | prefix('shop-') }}", { q: queues }, 't'), ['shop-default', 'shop-mail']);
  assert.equal(renderValue("{{ (q | map(attribute='wait') | max) + 15 }}", { q: queues }, 't'), 105);
});

test('an undefined variable is an error naming it and the place, never an empty string', () => {
  assert.throws(
    () => renderString('rm -rf /home/{{ missing_dir }}/x', {}, "task 'clean'"),
    (err: unknown) => err instanceof FlightError && err.kind === 'invalid' && err.message === "task 'clean': undefined variable 'missing_dir'",
  );
  assert.throws(() => renderString('{{ app.nope.deeper }}', { app: {} }, 'x'), FlightError);
  assert.throws(() => renderString('ok\n  {{ apps[app].home }}/x', { apps: {}, app: 'z' }, 't'), /undefined variable 'apps\[app\]\.home'/);
});

test('a whole-string expression keeps its type', () => {
  assert.deepEqual(renderValue('{{ servers }}', { servers: ['a', 'b'] }, 't'), ['a', 'b']);
  assert.equal(renderValue('{{ n }}', { n: 5 }, 't'), 5);
  assert.equal(renderValue('{{ n }} workers', { n: 5 }, 't'), '5 workers');
  assert.deepEqual(renderValue({ a: ['{{ x }}', 1] }, { x: true }, 't'), { a: [true, 1] });
  // Mapping literals inside the one expression: still a value, not its text.
  assert.deepEqual(renderValue('{{ m | default({}) }}', { m: null }, 't'), {});
  assert.deepEqual(renderValue("{{ (a if on else {}) | combine({ 'k': 'v' }) }}", { a: { x: 1 }, on: true }, 't'), { x: 1, k: 'v' });
  assert.deepEqual(renderValue("{{ (a if on else {}) | combine(b) }}", { a: { x: 1 }, b: { x: 2 }, on: false }, 't'), { x: 2 });
  // Two expressions make a string.
  assert.equal(renderValue('{{ a }}-{{ b }}', { a: 1, b: 2 }, 't'), '1-2');
});

test('evaluate handles comparisons, membership and undefined names', () => {
  const vars = { web_server: true, php: ['7.4', '8.2'], n: 3 };
  assert.equal(evaluate('web_server and n > 2', vars, 'w'), true);
  assert.equal(evaluate('"8.2" in php', vars, 'w'), true);
  assert.equal(evaluate('n == 4', vars, 'w'), false);
  assert.equal(evaluate('x is defined', vars, 'w'), false);
  assert.throws(() => evaluate('nope', vars, 'when'), /undefined/);
});
