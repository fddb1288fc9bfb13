/**
 * One round trip to a PHP-FPM pool: have it run Flight's worker script
 * (playbooks/files/flight-opcache.php) with a JSON body, and return the worker's JSON answer.
 * The FastCGI bytes are made on this machine (fastcgi.ts); on the server PHP's command line only
 * relays them (RELAY). Why a pool must be asked at all: modules/fpm_opcache.ts.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { argv } from '../command.js';
import { messageOf } from '../errors.js';
import { PLAYBOOKS_DIR } from '../paths.js';
import type { ModuleContext } from './contract.js';
import { encodeRequest, parseResponse, scriptParams } from './fastcgi.js';

/** The pool to ask, and where its worker script goes. */
export interface Pool {
  /** The pool's unix socket. */
  socket: string;
  /** PHP version whose command line relays the request (/usr/bin/phpX.Y). */
  php: string;
  /** A folder inside the app's home, readable by the pool's user. */
  dir: string;
  /** The pool's group: the worker script is readable by it. */
  group: string;
  /** Seconds to wait for the answer (default 30). */
  timeout?: number;
}

/**
 * Runs on the server with `php -n` (no ini files: nothing there can disable a function this
 * needs). argv: socket, worker path, group, timeout seconds. stdin: two base64 lines, the worker
 * script and the FastCGI request. stdout: the pool's answer, base64. Exit 2: cannot write the
 * worker; 3: cannot reach the pool; 4: no answer in time.
 */
export const RELAY = `[, $sock, $file, $group, $timeout] = $argv;
register_shutdown_function(static function () use ($file) { if (is_file($file)) { @unlink($file); } });
$in = explode("\\n", (string) stream_get_contents(STDIN));
$worker = base64_decode($in[0] ?? '', true);
$request = base64_decode($in[1] ?? '', true);
if ($worker === false || $request === false || $request === '') { fwrite(STDERR, "bad input\\n"); exit(2); }
// The folder belongs to the app's user: refuse one it has swapped for a link elsewhere.
if (is_link(dirname($file)) || !is_dir(dirname($file))) { fwrite(STDERR, dirname($file) . " is not a folder\n"); exit(2); }
umask(077);
$tmp = $file . '.' . getmypid() . '.tmp';
$h = @fopen($tmp, 'x');
if ($h === false || fwrite($h, $worker) !== strlen($worker) || !fclose($h) || !chgrp($tmp, $group) || !chmod($tmp, 0640) || !rename($tmp, $file)) {
  @unlink($tmp); fwrite(STDERR, "cannot write $file\\n"); exit(2);
}
$s = @stream_socket_client('unix://' . $sock, $errno, $errstr, 5);
if ($s === false) { fwrite(STDERR, "cannot connect to $sock: $errstr\\n"); exit(3); }
stream_set_timeout($s, (int) $timeout);
for ($off = 0, $len = strlen($request); $off < $len; $off += $n) {
  $n = fwrite($s, substr($request, $off));
  if (!$n) { fwrite(STDERR, "cannot write to $sock\\n"); exit(3); }
}
$answer = stream_get_contents($s);
if (stream_get_meta_data($s)['timed_out']) { fwrite(STDERR, "no answer from $sock in {$timeout} s\\n"); exit(4); }
echo base64_encode((string) $answer);`;

export const WORKER_FILE = path.join(PLAYBOOKS_DIR, 'files', 'flight-opcache.php');

let workerSource: Buffer | undefined;
function worker(): Buffer {
  workerSource ??= fs.readFileSync(WORKER_FILE);
  return workerSource;
}

export type FpmAnswer = { ok: true; json: Record<string, unknown> } | { ok: false; msg: string };

/** Ask the pool to run the worker with this body; the worker's JSON answer, or why there is none. */
export async function askPool(ctx: Pick<ModuleContext, 'exec'>, p: Pool, body: Record<string, unknown>): Promise<FpmAnswer> {
  const file = `${p.dir.replace(/\/+$/, '')}/.flight-opcache-${randomBytes(8).toString('hex')}.php`;
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const request = encodeRequest({ params: scriptParams(file, payload), stdin: payload });
  const timeout = p.timeout ?? 30;
  let res;
  try {
    res = await ctx.exec(argv(`/usr/bin/php${p.php}`, '-n', '-r', RELAY, '--', p.socket, file, p.group, String(Math.ceil(timeout))), {
      stdin: `${worker().toString('base64')}\n${request.toString('base64')}\n`,
      timeoutMs: (timeout + 15) * 1000,
    });
  } catch (err) {
    return { ok: false, msg: `no answer from ${p.socket}: ${messageOf(err)}` };
  }
  if (res.code !== 0) return { ok: false, msg: `${p.socket}: ${(res.stderr || res.stdout).trim() || `rc=${res.code}`}` };
  const answer = parseResponse(Buffer.from(res.stdout.trim(), 'base64'));
  const stderr = answer.stderr.trim();
  if (!answer.complete) return { ok: false, msg: `${p.socket}: the pool closed the connection before the end of its answer${stderr ? `: ${stderr}` : ''}` };
  let json: unknown;
  try {
    json = JSON.parse(answer.body.toString('utf8'));
  } catch {
    // FPM's own answers ("File not found." with "Primary script unknown" on stderr) are not JSON.
    const text = answer.body.toString('utf8').trim().slice(0, 200);
    return { ok: false, msg: `${p.socket} answered ${answer.status}${stderr ? `: ${stderr}` : ''}${text ? ` (${text})` : ''}` };
  }
  if (!json || typeof json !== 'object') return { ok: false, msg: `${p.socket} answered ${answer.status}: not a JSON object` };
  const obj = json as Record<string, unknown>;
  if (answer.status !== 200 || obj.ok !== true) {
    return { ok: false, msg: `${p.socket} answered ${answer.status}: ${typeof obj.error === 'string' ? obj.error : JSON.stringify(obj).slice(0, 200)}` };
  }
  return { ok: true, json: obj };
}
