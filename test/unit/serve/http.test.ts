import { test } from 'node:test';
import assert from 'node:assert/strict';
import type http from 'node:http';
import { Readable } from 'node:stream';
import { HttpError, loggablePath, MAX_BODY, parseJsonObject, readBody } from '../../../src/serve/http.js';

/** A request body as a stream of chunks, with the headers readBody looks at. */
function fakeRequest(chunks: Buffer[], headers: Record<string, string> = {}): http.IncomingMessage {
  const r = Readable.from(chunks) as unknown as http.IncomingMessage;
  (r as { headers: Record<string, string> }).headers = headers;
  return r;
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (err) {
    assert.ok(err instanceof HttpError, String(err));
    return err.status;
  }
}

test('body limit: 64 KiB exactly is read; one byte more is a 413, declared or counted', async () => {
  assert.equal(MAX_BODY, 65536);
  const exact = await readBody(fakeRequest([Buffer.alloc(40_000), Buffer.alloc(MAX_BODY - 40_000)]));
  assert.equal(exact.length, MAX_BODY);
  // Counted as it comes (chunked: no Content-Length).
  assert.equal(await status(readBody(fakeRequest([Buffer.alloc(40_000), Buffer.alloc(MAX_BODY - 40_000 + 1)]))), 413);
  // Declared: refused before anything is read (the stream would throw if read).
  const never = new Readable({ read() { throw new Error('read'); } }) as unknown as http.IncomingMessage;
  (never as { headers: Record<string, string> }).headers = { 'content-length': String(MAX_BODY + 1) };
  assert.equal(await status(readBody(never)), 413);
  // A declared size that lies low is still counted.
  assert.equal(await status(readBody(fakeRequest([Buffer.alloc(MAX_BODY + 5)], { 'content-length': '10' }))), 413);
  assert.equal((await readBody(fakeRequest([]))).length, 0);
  const e = await readBody(fakeRequest([Buffer.alloc(MAX_BODY + 1)])).catch((x: HttpError) => x);
  assert.equal((e as HttpError).headers.Connection, 'close', 'the connection is not kept for the rest of the body');
});

test('parseJsonObject: objects only; 400 for anything else', () => {
  assert.deepEqual(parseJsonObject(Buffer.from('{"sha":"abc1"}')), { sha: 'abc1' });
  for (const bad of ['', '{', 'null', '[]', '"x"', '12', '{"a":1}x', '\u0000']) {
    assert.throws(() => parseJsonObject(Buffer.from(bad)), (e: unknown) => e instanceof HttpError && e.status === 400, JSON.stringify(bad));
  }
});

test('loggablePath: no query, no control characters, bounded', () => {
  assert.equal(loggablePath('/apps/shop/deploys?wait=1&token=secret'), '/apps/shop/deploys');
  assert.equal(loggablePath('/a\r\nInjected: yes'), '/a??Injected: yes');
  assert.equal(loggablePath(`/${'x'.repeat(500)}`).length, 123);
  assert.equal(loggablePath(undefined), '');
});
