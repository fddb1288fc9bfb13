import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAjv } from '../../../src/json-schema.js';
import { BLOCK_END, BLOCK_START, composeEnv, keyChanges, quoteEnvValue, renderBlock, splitEnv } from '../../../src/module-kit/env-block.js';
import { describeEnvChanges, env_file, envChanges, envDiff, planEnvFile } from '../../../modules/env_file.js';
import { fetch } from '../../../modules/fetch.js';
import { DOTENV_AUTOLOAD, DOTENV_PHP, HOSTILE_VALUES } from '../../support/dotenv.js';

const b = (s: string) => Buffer.from(s);
const block = renderBlock({ DB_HOST: '10.0.0.5', DB_PASSWORD: 's3cret' })!;

/** compose then split gives back the same parts, byte for byte. */
function assertRoundTrip(user: Buffer, withBlock: Buffer | undefined) {
  const parts = splitEnv(composeEnv({ user, block: withBlock }));
  assert.ok(parts.user.equals(user), JSON.stringify(user.toString('latin1')));
  assert.equal(parts.block?.toString('latin1'), withBlock?.toString('latin1'));
}

test('the block: sorted keys, double-quoted values, between its markers', () => {
  assert.equal(
    renderBlock({ DB_PASSWORD: 's3cret', DB_CONNECTION: 'mysql', DB_PORT: 3306 })!.toString(),
    `${BLOCK_START}\nDB_CONNECTION="mysql"\nDB_PASSWORD="s3cret"\nDB_PORT="3306"\n${BLOCK_END}\n`,
  );
  assert.equal(renderBlock({}), undefined, 'no keys: no block');
});

test('the user part comes back exactly, with or without a final newline, with or without a block', () => {
  const users = ['APP_NAME=shop\nAPP_KEY=base64:x\n', 'APP_NAME=shop\nAPP_KEY=base64:x', '', '\n', '\n\n', '# only a comment', 'A=1\n\n\n'];
  for (const u of users) {
    assertRoundTrip(b(u), block);
    assertRoundTrip(b(u), undefined);
  }
  // Bytes that are not UTF-8 are never decoded, so they survive too.
  assertRoundTrip(Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0x0a, 0x80]), block);
});

test('the composed file: a newline before the block unless the user part is empty, nothing added without a block', () => {
  assert.equal(composeEnv({ user: b('A=1'), block }).toString(), `A=1\n${block}`);
  assert.equal(composeEnv({ user: b('A=1\n'), block }).toString(), `A=1\n\n${block}`);
  assert.equal(composeEnv({ user: b(''), block }).toString(), block.toString());
  assert.equal(composeEnv({ user: b('A=1'), block: undefined }).toString(), 'A=1');
});

test('CRLF user files come back with their line endings', () => {
  assertRoundTrip(b('APP_NAME=shop\r\nAPP_ENV=production\r\n'), block);
  assertRoundTrip(b('APP_NAME=shop\r\nAPP_ENV=production'), block);
  assertRoundTrip(b('APP_NAME=shop\r'), block);
});

test('a file without a block is all user part; a block is found at the end only', () => {
  const file = b(`A=1\n${block}`);
  assert.deepEqual(splitEnv(b('A=1\nB=2\n')), { user: b('A=1\nB=2\n') });
  const parts = splitEnv(file);
  assert.equal(parts.user.toString(), 'A=1');
  assert.equal(parts.block!.toString(), block.toString());
  // The block loses its final newline, or gains a line by hand: still the block, rewritten next time.
  assert.equal(splitEnv(b(`A=1\n${block.toString().trimEnd()}`)).user.toString(), 'A=1');
  const edited = block.toString().replace(BLOCK_END, `# a note\n${BLOCK_END}`);
  assert.equal(splitEnv(b(`A=1\n${edited}`)).user.toString(), 'A=1');
  // Something after the block: it is no longer at the end, so the whole file is the user's.
  assert.deepEqual(splitEnv(b(`A=1\n${block}B=2\n`)), { user: b(`A=1\n${block}B=2\n`) });
});

test('marker look-alikes in the user part stay the user part', () => {
  // An end marker alone (or a start marker with no block after it to the end of the file) is
  // just a comment of the user's: the block is the LAST start marker through an end marker
  // that closes the file, and compose always puts Flight's block after the user's lines.
  for (const u of [`A=1\n${BLOCK_END}\n`, `A=1\n${BLOCK_END}`, `${BLOCK_END}\nA=1\n`, `${BLOCK_START}\nA=1\n`, `A=1\n${BLOCK_START}\n${BLOCK_END}\nB=2\n`]) {
    assert.equal(splitEnv(b(u)).block, undefined, u);
    assertRoundTrip(b(u), block);
    assertRoundTrip(b(u), undefined);
  }
  // A user part that ENDS in a whole block (a file pulled without env: true) could not come
  // back once Flight's block is removed: refused, whether a block follows or not.
  const pulledWhole = b(`A=1\n${block}`);
  for (const withBlock of [block, undefined]) {
    assert.throws(() => composeEnv({ user: pulledWhole, block: withBlock }), /own part ends with a Flight block/);
  }
});

test('values are quoted as phpdotenv reads them back: \\, " and $ escaped', () => {
  assert.equal(quoteEnvValue('K', 'plain'), '"plain"');
  assert.equal(quoteEnvValue('K', ''), '""');
  assert.equal(quoteEnvValue('K', `a"b'c`), `"a\\"b'c"`);
  assert.equal(quoteEnvValue('K', 'back\\slash\\'), '"back\\\\slash\\\\"');
  assert.equal(quoteEnvValue('K', '${HOME} $HOME'), '"\\${HOME} \\$HOME"');
  assert.equal(quoteEnvValue('K', '#x y'), '"#x y"');
});

test('values that a .env line cannot hold are refused, naming the key and never the value', () => {
  for (const value of ['sw0rd\nfish', 'sw0rd\rfish', 'sw0rd\0fish', 'sw0rdfish\n']) {
    assert.throws(() => renderBlock({ DB_PASSWORD: value }), (err: Error) => {
      assert.match(err.message, /managed key DB_PASSWORD: .*line break/);
      for (const word of value.split(/[\r\n\0]/)) if (word) assert.ok(!err.message.includes(word), err.message);
      return true;
    });
  }
});

test('keys must be environment variable names', () => {
  for (const key of ['db_host', '1DB', 'DB-HOST', 'DB HOST', '', 'DB.HOST', 'DÉ']) {
    assert.throws(() => renderBlock({ [key]: 'hunter2' }), (err: Error) => {
      assert.match(err.message, /is not a valid name/);
      assert.ok(!err.message.includes('hunter2'));
      return true;
    });
  }
  assert.ok(renderBlock({ _X: '1', DB_HOST2: '1' }));
});

test('key changes name the keys, compared by their written value', () => {
  const before = renderBlock({ DB_HOST: 'a', DB_PASSWORD: 'old', DB_PORT: 3306 });
  const after = renderBlock({ DB_HOST: 'a', DB_PASSWORD: 'new', DB_DATABASE: 'shop' });
  assert.deepEqual(keyChanges(before, after), { added: ['DB_DATABASE'], removed: ['DB_PORT'], changed: ['DB_PASSWORD'] });
  assert.deepEqual(keyChanges(undefined, after), { added: ['DB_DATABASE', 'DB_HOST', 'DB_PASSWORD'], removed: [], changed: [] });
  assert.deepEqual(keyChanges(after, undefined), { added: [], removed: ['DB_DATABASE', 'DB_HOST', 'DB_PASSWORD'], changed: [] });
});

test('env_file messages and diffs name parts and keys, never values', () => {
  const before = { user: b('APP_KEY=userkey\n'), block: renderBlock({ DB_HOST: 'oldhost', DB_PORT: 3306 }) };
  const after = { user: b('APP_KEY=otherkey\n'), block: renderBlock({ DB_HOST: 'newhost', DB_PASSWORD: 'pw' }) };
  const c = envChanges(before, after);
  assert.equal(describeEnvChanges(c), 'user part changed, Flight keys added: DB_PASSWORD, Flight keys removed: DB_PORT, Flight keys changed: DB_HOST');
  const diff = envDiff('/home/shop/shared/.env', before, after, c);
  assert.deepEqual(diff, {
    path: '/home/shop/shared/.env',
    before: '(user part hidden)\n# >>> Flight\nDB_HOST=(hidden)\nDB_PORT=(hidden)\n# <<< Flight\n',
    after: '(user part hidden, changed)\n# >>> Flight\nDB_HOST=(hidden, changed)\nDB_PASSWORD=(hidden)\n# <<< Flight\n',
  });
  const created = envChanges(undefined, after);
  assert.equal(describeEnvChanges(created), 'created, Flight keys added: DB_HOST, DB_PASSWORD');
  assert.equal(envDiff('/x/.env', undefined, after, created).before, '');
  const all = JSON.stringify([c, diff, created, envDiff('/x/.env', undefined, after, created)]);
  for (const secret of ['userkey', 'otherkey', 'oldhost', 'newhost', '3306', '"pw"']) assert.ok(!all.includes(secret), secret);
});

test('env_file and fetch schemas', () => {
  const ajv = createAjv();
  const v = ajv.compile(env_file.schema);
  assert.ok(v({ path: '/home/shop/shared/.env', owner: 'shop', group: 'shop', src: 'shop.env', managed: { DB_PORT: 3306, DB_HOST: 'h', X: true } }));
  assert.ok(v({ path: '/home/shop/shared/.env', content: '', managed: {} }));
  assert.ok(!v({ path: 'relative/.env' }));
  assert.ok(!v({ path: '/x/.env', managed: { DB_HOST: { nested: 1 } } }));
  assert.ok(!v({ path: '/x/.env', mode: '0644' }), 'the mode is always 0600');
  assert.deepEqual(env_file.secretParams, ['content', 'managed']);
  assert.ok(ajv.compile(fetch.schema)({ src: '/home/shop/shared/.env', dest: 'shop.env', env: true }));
});

const dotenv = existsSync(DOTENV_AUTOLOAD) && spawnSync('php', ['-v']).status === 0;

test('phpdotenv (Laravel 8 loading) reads the block back exactly, and the block wins', { skip: dotenv ? false : `no php with ${DOTENV_AUTOLOAD} on this machine` }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flight-env-'));
  try {
    // A CRLF user part without a final newline, setting keys the block sets too.
    const user = b('APP_NAME=shop\r\nDB_PASSWORD=from-user\r\nDB_HOST="user-host"');
    writeFileSync(path.join(dir, '.env'), composeEnv({ user, block: renderBlock(HOSTILE_VALUES) }));
    const keys = ['APP_NAME', ...Object.keys(HOSTILE_VALUES)];
    const out = execFileSync('php', ['-r', DOTENV_PHP, '--', dir, '.env', JSON.stringify(keys)], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out), { APP_NAME: 'shop', ...HOSTILE_VALUES });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('env_file decides from the bytes: the part a task does not set is kept from the host', () => {
  const user = b('APP_KEY=k\n');
  const file = composeEnv({ user, block });
  // Setting only the block, or only the user part, to what the host has: nothing to write.
  assert.deepEqual(planEnvFile(file, { setBlock: true, block }), {});
  assert.deepEqual(planEnvFile(file, { user, setBlock: false }), {});
  // A new user part keeps the host's block.
  const w = planEnvFile(file, { user: b('APP_KEY=other\n'), setBlock: false }).write!;
  assert.equal(w.bytes.toString(), composeEnv({ user: b('APP_KEY=other\n'), block }).toString());
  assert.deepEqual({ user: w.changes.user, created: w.changes.created, added: w.changes.added }, { user: true, created: false, added: [] });
  // An empty `managed` removes the block and keeps the user part.
  assert.equal(planEnvFile(file, { setBlock: true }).write!.bytes.toString(), user.toString());
  assert.deepEqual(planEnvFile(file, { setBlock: true }).write!.changes.removed, ['DB_HOST', 'DB_PASSWORD']);
  // No file yet: created from what the task gives.
  const created = planEnvFile(undefined, { setBlock: true, block }).write!;
  assert.equal(created.before, undefined);
  assert.equal(created.bytes.toString(), block.toString());
  assert.equal(created.changes.created, true);
  // A user part that would not come back (it ends with a block) is refused, given or found on the host.
  assert.match(planEnvFile(undefined, { user: file, setBlock: false }).error!, /own part ends with a Flight block/);
  assert.match(planEnvFile(b(`A=1\n${block}${block}`), { setBlock: true, block }).error!, /own part ends with a Flight block/);
});
