/** FastCGI records as the spec lays them out, byte for byte, and answers as PHP-FPM sends them. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FCGI,
  decodeNameValuePairs,
  decodeRecords,
  encodeNameValuePairs,
  encodeRecord,
  encodeRequest,
  encodeStream,
  parseResponse,
  scriptParams,
  splitCgiOutput,
} from '../../../src/module-kit/fastcgi.js';

test('a record: 8-byte header, content, padding to a multiple of 8', () => {
  const r = encodeRecord(FCGI.STDIN, 1, Buffer.from('abc'));
  assert.deepEqual([...r], [1, 5, 0, 1, 0, 3, 5, 0, 0x61, 0x62, 0x63, 0, 0, 0, 0, 0]);
  // Already aligned: no padding. Empty: the header alone (the end of a stream).
  assert.equal(encodeRecord(FCGI.STDIN, 1, Buffer.alloc(8)).length, 16);
  assert.deepEqual([...encodeRecord(FCGI.PARAMS, 0x0102)], [1, 4, 1, 2, 0, 0, 0, 0]);
  assert.throws(() => encodeRecord(FCGI.STDIN, 1, Buffer.alloc(0x10000)), RangeError);
  assert.throws(() => encodeRecord(FCGI.STDIN, 0x10000), RangeError);
});

test('name-value pairs: 1-byte lengths below 128, 4-byte lengths with the top bit set above', () => {
  assert.deepEqual([...encodeNameValuePairs({ A: 'bc' })], [1, 2, 0x41, 0x62, 0x63]);
  const long = 'x'.repeat(200);
  const b = encodeNameValuePairs({ N: long });
  assert.deepEqual([...b.subarray(0, 6)], [1, 0x80, 0, 0, 200, 0x4e]);
  assert.equal(b.length, 1 + 4 + 1 + 200);
  // 127 is the largest one-byte length, 128 the smallest four-byte one.
  assert.equal(encodeNameValuePairs({ a: 'y'.repeat(127) }).length, 1 + 1 + 1 + 127);
  assert.equal(encodeNameValuePairs({ a: 'y'.repeat(128) }).length, 1 + 4 + 1 + 128);
  const pairs = { SCRIPT_FILENAME: '/home/opc/.flight/x.php', EMPTY: '', 'UTF-8': 'é', BIG: 'z'.repeat(70_000) };
  assert.deepEqual(decodeNameValuePairs(encodeNameValuePairs(pairs)), pairs);
  assert.throws(() => decodeNameValuePairs(Buffer.from([5, 1, 0x41])), RangeError);
});

test('a stream is cut into records of at most 65535 bytes and ends with an empty one', () => {
  const data = Buffer.alloc(70_000, 7);
  const { records, rest } = decodeRecords(encodeStream(FCGI.STDIN, 3, data));
  assert.equal(rest.length, 0);
  assert.deepEqual(records.map((r) => r.content.length), [65535, 4465, 0]);
  assert.ok(records.every((r) => r.type === FCGI.STDIN && r.requestId === 3));
  assert.deepEqual(Buffer.concat(records.map((r) => r.content)), data);
});

test('a request: BEGIN_REQUEST as a responder without keep-conn, then PARAMS and STDIN streams', () => {
  const body = Buffer.from('{"action":"status"}');
  const params = scriptParams('/home/opc/.flight/.flight-opcache-1.php', body);
  const { records, rest } = decodeRecords(encodeRequest({ params, stdin: body }));
  assert.equal(rest.length, 0);
  assert.deepEqual(records.map((r) => r.type), [FCGI.BEGIN_REQUEST, FCGI.PARAMS, FCGI.PARAMS, FCGI.STDIN, FCGI.STDIN]);
  assert.deepEqual([...records[0]!.content], [0, 1, 0, 0, 0, 0, 0, 0], 'role 1 (responder), flags 0: the pool closes the connection at the end');
  const sent = decodeNameValuePairs(records[1]!.content);
  assert.equal(sent.SCRIPT_FILENAME, '/home/opc/.flight/.flight-opcache-1.php');
  assert.equal(sent.SCRIPT_NAME, '/.flight-opcache-1.php');
  assert.equal(sent.REQUEST_METHOD, 'POST');
  assert.equal(sent.CONTENT_LENGTH, String(body.length));
  assert.equal(sent.CONTENT_TYPE, 'application/json');
  assert.equal(records[3]!.content.toString(), '{"action":"status"}');
  assert.equal(records[4]!.content.length, 0);
});

const stdout = (s: string | Buffer, id = 1) => encodeRecord(FCGI.STDOUT, id, Buffer.isBuffer(s) ? s : Buffer.from(s));
const end = (appStatus: number, protocolStatus = 0, id = 1) => {
  const c = Buffer.alloc(8);
  c.writeUInt32BE(appStatus, 0);
  c.writeUInt8(protocolStatus, 4);
  return encodeRecord(FCGI.END_REQUEST, id, c);
};

test('an answer: STDOUT records joined, CGI headers split off, STDERR kept, END_REQUEST read', () => {
  const answer = Buffer.concat([
    stdout('Content-Type: application/json\r\nCache-Control: no-store\r\n\r\n{"ok":'),
    encodeRecord(FCGI.STDERR, 1, Buffer.from('PHP message: a warning')),
    stdout('true}'),
    stdout(''),
    end(0),
  ]);
  const r = parseResponse(answer);
  assert.equal(r.complete, true);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(r.body.toString(), '{"ok":true}');
  assert.equal(r.stderr, 'PHP message: a warning');
  assert.equal(r.appStatus, 0);
  assert.equal(r.protocolStatus, 'REQUEST_COMPLETE');
});

test("FPM's own refusal: a Status header, the reason on STDERR", () => {
  const r = parseResponse(Buffer.concat([
    encodeRecord(FCGI.STDERR, 1, Buffer.from('Primary script unknown')),
    stdout('Status: 404 Not Found\r\nContent-type: text/html; charset=UTF-8\r\n\r\nFile not found.\n'),
    end(0),
  ]));
  assert.equal(r.status, 404);
  assert.equal(r.body.toString(), 'File not found.\n');
  assert.equal(r.stderr, 'Primary script unknown');
});

test('a cut-off answer is incomplete; records of another request id are ignored; garbage is refused', () => {
  const whole = Buffer.concat([stdout('Status: 500\n\nboom'), end(255, 2)]);
  assert.equal(parseResponse(whole.subarray(0, whole.length - 3)).complete, false);
  const r = parseResponse(whole);
  assert.equal(r.status, 500);
  assert.equal(r.body.toString(), 'boom', 'LF-only header block');
  assert.equal(r.appStatus, 255);
  assert.equal(r.protocolStatus, 'OVERLOADED');
  const mixed = parseResponse(Buffer.concat([stdout('X: 1\r\n\r\nother', 2), stdout('X: 2\r\n\r\nmine'), end(0)]));
  assert.equal(mixed.body.toString(), 'mine');
  assert.throws(() => decodeRecords(Buffer.from('HTTP/1.1 200 OK\r\n')), /not a FastCGI record/);
  const partial = decodeRecords(Buffer.concat([stdout('abc'), stdout('defgh').subarray(0, 5)]));
  assert.equal(partial.records.length, 1);
  assert.equal(partial.rest.length, 5);
});

test('CGI output without a header block is all body', () => {
  assert.deepEqual(splitCgiOutput(Buffer.from('just text')), { status: 200, headers: {}, body: Buffer.from('just text') });
});
