import { test } from 'node:test';
import assert from 'node:assert/strict';
import { githubRepository, pushDecision, signBody, verifySignature } from '../../../src/serve/github.js';

test('webhook signature: GitHub\'s documented example verifies', () => {
  // From GitHub's "Validating webhook deliveries": secret "It's a Secret to Everybody",
  // payload "Hello, World!".
  const body = Buffer.from('Hello, World!');
  const sig = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  assert.equal(signBody("It's a Secret to Everybody", body), sig);
  assert.equal(verifySignature("It's a Secret to Everybody", body, sig), true);
  assert.equal(verifySignature("It's a Secret to Everybody", body, sig.toUpperCase().replace('SHA256=', 'sha256=')), true);
});

test('webhook signature: anything else fails', () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const good = signBody('s3cret', body);
  const table: Array<[string, Buffer, string | undefined]> = [
    ['other', body, good],
    ['s3cret', Buffer.from(`${body} `), good],
    ['s3cret', body, undefined],
    ['s3cret', body, ''],
    ['s3cret', body, good.slice(7)],
    ['s3cret', body, `sha1=${good.slice(7)}`],
    ['s3cret', body, good.slice(0, -1)],
    ['s3cret', body, `${good}0`],
    ['s3cret', body, 'sha256=' + 'z'.repeat(64)],
    ['', body, signBody('', body)],
  ];
  for (const [secret, b, header] of table) assert.equal(verifySignature(secret, b, header), false, `${secret} ${header}`);
});

test('githubRepository: owner/name of GitHub remotes only', () => {
  assert.equal(githubRepository('git@github.com:acme/shop.git'), 'acme/shop');
  assert.equal(githubRepository('https://github.com/acme/shop'), 'acme/shop');
  assert.equal(githubRepository('https://github.com/acme/shop.git'), 'acme/shop');
  assert.equal(githubRepository('ssh://git@github.com/acme/my.app.git'), 'acme/my.app');
  assert.equal(githubRepository('git@gitlab.com:acme/shop.git'), undefined);
  assert.equal(githubRepository('/srv/repos/shop'), undefined);
});

test('pushDecision: the branch head of the right repository, nothing else', () => {
  const sha = 'a'.repeat(40);
  const push = { ref: 'refs/heads/main', after: sha, head_commit: { id: sha }, repository: { full_name: 'acme/shop' } };
  assert.deepEqual(pushDecision(push, 'main', 'acme/shop'), { deploy: true, sha });
  assert.deepEqual(pushDecision(push, 'main', undefined), { deploy: true, sha });
  assert.deepEqual(pushDecision({ ...push, head_commit: null }, 'main', 'ACME/Shop'), { deploy: true, sha });
  assert.equal(pushDecision(push, 'production', 'acme/shop').deploy, false);
  assert.equal(pushDecision(push, 'main', 'acme/blog').deploy, false);
  assert.equal(pushDecision({ ...push, ref: 'refs/tags/main' }, 'main', undefined).deploy, false);
  assert.equal(pushDecision({ ...push, deleted: true, after: '0'.repeat(40), head_commit: null }, 'main', undefined).deploy, false);
  assert.equal(pushDecision({ ...push, head_commit: { id: 'nope' }, after: 'x' }, 'main', undefined).deploy, false);
  assert.equal(pushDecision(null, 'main', undefined).deploy, false);
});
