import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlightError } from '../../../src/errors.js';
import { parsePattern, selectHostNames, type PatternUniverse } from '../../../src/inventory/index.js';

const U: PatternUniverse = {
  hostNames: ['lab-1', 'lab-2', 'lab-3', 'db-1', 'web'],
  groups: new Map([
    ['all', ['lab-1', 'lab-2', 'lab-3', 'db-1', 'web']],
    ['web', ['lab-1', 'lab-2']],
    ['workers', ['lab-3']],
    ['scheduler', ['lab-3', 'lab-1']],
    ['app_shop', ['lab-2', 'lab-1', 'lab-3']],
    ['empty', []],
  ]),
  implicit: ['localhost'],
};

test('host patterns select hosts in inventory order', () => {
  const cases: Array<[string, string[]]> = [
    ['all', ['lab-1', 'lab-2', 'lab-3', 'db-1', 'web']],
    ['*', ['lab-1', 'lab-2', 'lab-3', 'db-1', 'web']],
    ['web', ['lab-1', 'lab-2', 'web']], // group and host of that name
    ['workers', ['lab-3']],
    ['db-1', ['db-1']],
    ['empty', []],
    ['localhost', ['localhost']],
    ['lab-*', ['lab-1', 'lab-2', 'lab-3']],
    ['lab-?', ['lab-1', 'lab-2', 'lab-3']],
    ['*-1', ['lab-1', 'db-1']],
    ['app_*', ['lab-1', 'lab-2', 'lab-3']], // glob over group names
    ['~^lab-[12]$', ['lab-1', 'lab-2']],
    ['workers:db-1', ['lab-3', 'db-1']],
    ['db-1,workers', ['lab-3', 'db-1']],
    ['db-1, workers', ['lab-3', 'db-1']],
    ['scheduler', ['lab-1', 'lab-3']], // group order does not matter: inventory order
    ['app_shop:&scheduler', ['lab-1', 'lab-3']],
    ['app_shop:!web', ['lab-3']],
    ['!web:app_shop', ['lab-3']], // exclusions apply last wherever they are written
    ['all:!lab-*', ['db-1', 'web']],
    ['!workers', ['lab-1', 'lab-2', 'db-1', 'web']], // only exclusions: from all
    ['&web', ['lab-1', 'lab-2', 'web']], // only intersections: from all
    ['all:&web:&scheduler', ['lab-1']],
    ['web:workers:!lab-1', ['lab-2', 'lab-3', 'web']],
    ['all:localhost', ['lab-1', 'lab-2', 'lab-3', 'db-1', 'web', 'localhost']],
    ['app_shop[0]', ['lab-2']], // position in the group's own order
    ['app_shop[-1]', ['lab-3']],
    ['all[1:2]', ['lab-2', 'lab-3']], // the end is included
    ['all[3:]', ['db-1', 'web']],
    ['all[:0]', ['lab-1']],
    ['all[9]', []],
    ['all[0:1]:&web', ['lab-1', 'lab-2']],
  ];
  for (const [pattern, expected] of cases) assert.deepEqual(selectHostNames(pattern, U), expected, pattern);
});

test('all and globs never reach the implicit localhost', () => {
  assert.ok(!selectHostNames('*', U).includes('localhost'));
  assert.throws(() => selectHostNames('local*', U), /no host or group matches 'local\*'/);
});

test('a term that matches nothing known is an error naming it', () => {
  const cases: Array<[string, RegExp]> = [
    ['wbe', /^no host or group matches 'wbe'$/],
    ['web:wokers', /^no host or group matches 'wokers' \(in host pattern 'web:wokers'\)$/],
    ['web:&nope', /'nope'/],
    ['web:!nope', /'nope'/],
    ['zz-*', /'zz-\*'/],
    ['~^zz', /'~\^zz'/],
    ['~(', /bad regular expression '~\(' in host pattern '~\('/],
    ['', /empty term in host pattern ''/],
    ['web::db-1', /empty term/],
    ['web:!', /empty term/],
  ];
  for (const [pattern, message] of cases) {
    assert.throws(
      () => selectHostNames(pattern, U),
      (e: unknown) => e instanceof FlightError && e.kind === 'invalid' && message.test(e.message),
      pattern,
    );
  }
});

test('parsePattern splits on : and , outside brackets', () => {
  assert.deepEqual(parsePattern('a:&b,!c[0:2]'), [
    { kind: 'union', text: 'a' },
    { kind: 'intersection', text: 'b' },
    { kind: 'exclusion', text: 'c[0:2]' },
  ]);
});
