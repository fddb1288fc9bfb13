import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAjv } from '../../../src/json-schema.js';
import { formatProblem, ProblemsError, sortProblems } from '../../../src/problems.js';
import { formatPath, formatSchemaErrors, parseYamlWithPositions, pointerToPath } from '../../../src/yaml-positions.js';

const TEXT = `name: demo
servers:
  - name: a
    web:
      max_workers: 4
  - { name: b, tags: [x, "y"] }
empty:
version: 8.10
`;

test('positionOf points at values, keyPositionOf at keys', () => {
  const y = parseYamlWithPositions(TEXT, 'f.yml');
  const cases: Array<[(string | number)[], [number, number], [number, number]]> = [
    [[], [1, 1], [1, 1]],
    [['name'], [1, 7], [1, 1]],
    [['servers'], [3, 3], [2, 1]],
    [['servers', 0], [3, 5], [3, 5]],
    [['servers', 0, 'web', 'max_workers'], [5, 20], [5, 7]],
    [['servers', 1, 'name'], [6, 13], [6, 7]],
    [['servers', 1, 'tags', 1], [6, 26], [6, 26]],
    // An empty value has no text of its own: its key.
    [['empty'], [7, 1], [7, 1]],
    // Missing paths fall back to the deepest part that exists.
    [['servers', 0, 'web', 'nope'], [5, 7], [5, 7]],
    [['servers', 7], [3, 3], [3, 3]],
  ];
  for (const [path, value, key] of cases) {
    assert.deepEqual(y.positionOf(path), { line: value[0], col: value[1] }, `value ${formatPath(path)}`);
    assert.deepEqual(y.keyPositionOf(path), { line: key[0], col: key[1] }, `key ${formatPath(path)}`);
  }
});

test('sourceOf gives scalars as written', () => {
  const y = parseYamlWithPositions(TEXT, 'f.yml');
  assert.equal(y.sourceOf(['version']), '8.10');
  assert.equal((y.value as { version: number }).version, 8.1);
  assert.equal(y.sourceOf(['servers', 1, 'tags', 1]), '"y"');
  assert.equal(y.sourceOf(['servers']), undefined);
});

test('problemAt and problemAtKey build positioned problems', () => {
  const y = parseYamlWithPositions(TEXT, 'f.yml');
  assert.equal(formatProblem(y.problemAt(['servers', 0, 'web', 'max_workers'], 'too many')), 'f.yml:5:20: servers[0].web.max_workers: too many');
  assert.equal(formatProblem(y.problemAtKey(['name'], 'bad')), 'f.yml:1:1: name: bad');
});

test('aliases are followed', () => {
  const y = parseYamlWithPositions('base: &b { port: 22 }\nserver: *b\n', 'f.yml');
  assert.deepEqual(y.positionOf(['server', 'port']), { line: 1, col: 18 });
});

test('formatPath and pointerToPath', () => {
  assert.equal(formatPath([]), '');
  assert.equal(formatPath(['servers', 0, 'web', 'max_workers']), 'servers[0].web.max_workers');
  assert.equal(formatPath(['serve', 'tokens', 'my app']), 'serve.tokens["my app"]');
  assert.deepEqual(pointerToPath(''), []);
  assert.deepEqual(pointerToPath('/servers/0/web'), ['servers', 0, 'web']);
  assert.deepEqual(pointerToPath('/a~1b/c~0d/01'), ['a/b', 'c~d', '01']);
});

test('YAML syntax errors are problems with positions, and no value', () => {
  const cases: Array<[string, string[]]> = [
    ['a: 1\na: 2\n', ["f.yml:2:1: YAML syntax error: duplicate key 'a' (map keys must be unique)"]],
    ['a: "x\nb: c\n', ['f.yml:1:4: YAML syntax error: Missing closing "quote (the quote opened here is never closed)']],
    ['a: b\n\tc: d\n', ['f.yml:2:1: YAML syntax error: Tabs are not allowed as indentation']],
    ['a: [1, 2\nb: 3\n', ['f.yml:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a: 1\n---\nb: 2\n', ['f.yml:2:1: YAML syntax error: Source contains multiple documents; please use YAML.parseAllDocuments()']],
    ['a: &x\n  b: *x\n', ['f.yml:2:6: YAML error: alias *x is inside the node it names']],
  ];
  for (const [text, expected] of cases) {
    const y = parseYamlWithPositions(text, 'f.yml');
    assert.deepEqual(y.problems.map(formatProblem), expected, text);
    assert.equal(y.value, undefined);
  }
});

test('formatSchemaErrors works for any schema built with createAjv', () => {
  const ajv = createAjv();
  const validate = ajv.compile({
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1 },
      version: { type: 'string', pattern: '^\\d+\\.\\d+$' },
      count: { type: 'integer', minimum: 0, maximum: 9 },
      mode: { anyOf: [{ type: 'string' }, { type: 'object', additionalProperties: false, properties: { path: { type: 'string' } } }] },
      tags: { type: 'array', uniqueItems: true, items: { type: 'string' } },
      env: { type: 'object', propertyNames: { type: 'string', pattern: '^[A-Z_]+$' }, additionalProperties: { type: 'string' } },
      flag: { type: 'boolean' },
    },
  });
  const text = `version: 8.10
count: 12
mode: { pth: /x }
tags: [a, b, a]
env: { lower: x, OK: 1 }
flag: [true]
extra: 1
`;
  const y = parseYamlWithPositions(text, 'f.yml');
  assert.equal(validate(y.value), false);
  assert.deepEqual(sortProblems(formatSchemaErrors(validate.errors!, y)).map(formatProblem), [
    "f.yml:1:1: missing required key 'name'",
    'f.yml:1:10: version: must be a string, not the number 8.1: quote it: "8.10"',
    'f.yml:2:8: count: must be integer between 0 and 9',
    "f.yml:3:9: mode: unknown key 'pth' (expected one of: path); did you mean 'path'?",
    'f.yml:4:14: tags[2]: repeats item 0 of tags',
    "f.yml:5:8: env: key 'lower' must be string matching ^[A-Z_]+$",
    'f.yml:5:22: env.OK: must be a string, not the number 1: quote it: "1"',
    'f.yml:6:7: flag: must be true or false, got a list',
    "f.yml:7:1: unknown key 'extra' (expected one of: name, version, count, mode, tags, env, flag)",
  ]);
});

test('alternatives that all fail on shape are reported as one', () => {
  const validate = createAjv().compile({
    type: 'object',
    properties: { mode: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
  });
  const y = parseYamlWithPositions('mode: [1]\n', 'f.yml');
  validate(y.value);
  assert.deepEqual(formatSchemaErrors(validate.errors!, y).map(formatProblem), ['f.yml:1:7: mode: must be string or integer']);
});

test('ProblemsError lists its problems and keeps them as data', () => {
  const problems = [
    { file: 'b.yml', line: 1, col: 1, path: '', message: 'two' },
    { file: 'a.yml', line: 3, col: 2, path: 'x', message: 'one' },
    { file: 'a.yml', line: 3, col: 2, path: 'x', message: 'one' },
  ];
  const sorted = sortProblems(problems, ['a.yml', 'b.yml']);
  assert.equal(sorted.length, 2, 'duplicates dropped');
  const err = new ProblemsError('invalid things', sorted);
  assert.equal(err.kind, 'invalid');
  assert.equal(err.message, 'invalid things (2 errors):\n  a.yml:3:2: x: one\n  b.yml:1:1: two');
  assert.deepEqual(err.problems, sorted);
});

test('errors from an ajv without verbose keep their positions and ajv\'s words', async () => {
  const { Ajv } = await import('ajv');
  const validate = new Ajv({ allErrors: true }).compile({
    type: 'object',
    additionalProperties: false,
    properties: { n: { type: 'integer', minimum: 1 } },
  });
  const y = parseYamlWithPositions('n: 0\nx: 1\n', 'f.yml');
  validate(y.value);
  assert.deepEqual(formatSchemaErrors(validate.errors!, y).map(formatProblem), [
    "f.yml:2:1: unknown key 'x'",
    'f.yml:1:4: n: must be >= 1',
  ]);
});
