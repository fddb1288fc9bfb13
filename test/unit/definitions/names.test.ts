import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appNameProblem } from '../../../src/definitions/index.js';

test('app names must be usable as Linux user names, and not system ones', () => {
  const cases: Array<[string, boolean]> = [
    ['myapp', true],
    ['shop_2', true],
    ['a', true],
    ['a234567890123456789012345678901', true], // 31 characters
    ['a2345678901234567890123456789012', false], // 32
    ['My-App', false],
    ['my-app', false],
    ['9lives', false],
    ['_app', false],
    ['', false],
    ['root', false],
    ['nobody', false],
    ['daemon', false],
    ['sudo', false],
    ['nginx', false],
  ];
  for (const [name, ok] of cases) assert.equal(appNameProblem(name) === undefined, ok, name);
});
