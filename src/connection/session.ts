/**
 * One long-lived shell per SSH connection that runs command lines one after another.
 *
 * An exec request makes sshd start a whole new session for every call: a fork of sshd, the
 * login shell's start, the session's bookkeeping. On the lab that is ~65 ms of server CPU per
 * call against ~8 ms for the same command run by a shell that is already there (bench/README.md,
 * "session cost"); with 20 tasks on 50 servers sharing two cores, that difference is the run.
 *
 * The protocol is as small as it can be. Flight writes "<number of lines>\n<the line>\n"; the
 * loop reads that many lines, runs them with `eval` in a subshell with stdin from /dev/null (so
 * `cd`, `exit` or `set -e` never leak into the next call, and nothing reads the protocol), then
 * writes the marker and the exit status on stdout and the marker on stderr. The marker holds 128
 * random bits, made per session and sent as the loop's first input line (so it is in no process's
 * arguments or environment), so no command output can fake an end. Lines are the POSIX sh lines
 * an exec request would run, except that a script runs in the subshell itself rather than in a
 * new `sh -c` (inlineLine in src/connection/shell.ts).
 *
 * Stdin travels inside the line as a here-document when it is small text (sessionLine in
 * shell.ts); other stdin (an upload, binary data) goes by exec request. A session serves one call
 * at a time; the connection sends a call that arrives while it is busy as an exec request.
 */
import { randomBytes } from 'node:crypto';
import type { ClientChannel } from 'ssh2';
import { script, toShell } from '../command.js';
import { failed } from '../errors.js';
import type { RawResult } from './shell.js';

/**
 * The loop the session runs (POSIX sh; `read` without -r would eat backslashes). Its first input
 * line is the marker: never an argument, which `ps` would show to any command that lists processes.
 */
export function loopLine(): string {
  return toShell(
    script(
      [
        'IFS= read -r m || exit 0',
        'while IFS= read -r n; do',
        '  c=',
        '  while [ "$n" -gt 0 ]; do IFS= read -r l || exit 0; c="$c$l',
        '"; n=$((n - 1)); done',
        '  ( m= n= l=; eval "c=; $c" ) </dev/null',
        '  printf "%s %d\\n" "$m" "$?"',
        '  printf "%s\\n" "$m" >&2',
        'done',
      ].join('\n'),
    ),
  );
}

/** The "<lines>\n<line>\n" a call writes into the loop. */
export function frame(line: string): string {
  return `${line.split('\n').length}\n${line}\n`;
}

/**
 * Parse the end of one answer out of what the session has sent so far: the command's output
 * before the marker, its exit status, and what is left after it. Undefined until both streams
 * have their marker.
 */
export function takeAnswer(out: Buffer, err: Buffer, marker: Buffer): { result: RawResult; out: Buffer; err: Buffer } | undefined {
  const i = out.indexOf(marker);
  const k = err.indexOf(marker);
  if (i < 0 || k < 0) return undefined;
  const eol = out.indexOf(0x0a, i + marker.length);
  const errEol = err.indexOf(0x0a, k + marker.length);
  if (eol < 0 || errEol < 0) return undefined;
  const code = Number(out.subarray(i + marker.length + 1, eol).toString('ascii'));
  return {
    result: { code: Number.isInteger(code) ? code : 255, stdout: out.subarray(0, i), stderr: err.subarray(0, k) },
    out: out.subarray(eol + 1),
    err: err.subarray(errEol + 1),
  };
}

interface Pending {
  resolve: (r: RawResult) => void;
  reject: (e: Error) => void;
}

export class ShellSession {
  private out: Buffer = Buffer.alloc(0);
  private err: Buffer = Buffer.alloc(0);
  private pending?: Pending;
  private closed = false;
  private readonly marker: Buffer;

  private constructor(
    private readonly stream: ClientChannel,
    markerText: string,
    private readonly hostName: string,
  ) {
    this.marker = Buffer.from(markerText, 'ascii');
    stream.on('data', (d: Buffer) => {
      this.out = this.out.length ? Buffer.concat([this.out, d]) : d;
      this.check();
    });
    stream.stderr.on('data', (d: Buffer) => {
      this.err = this.err.length ? Buffer.concat([this.err, d]) : d;
      this.check();
    });
    stream.on('error', () => {}); // surfaced through 'close'
    stream.on('close', () => {
      this.closed = true;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(failed(`${this.hostName}: the shell session closed while a command ran`));
    });
  }

  /** Open the session's channel (one exec request) with the loop running in it. */
  static open(exec: (line: string, cb: (err: Error | undefined, stream: ClientChannel) => void) => void, hostName: string): Promise<ShellSession> {
    const marker = `FLIGHT-END-${randomBytes(16).toString('hex')}`;
    return new Promise((resolve, reject) => {
      exec(loopLine(), (err, stream) => {
        if (err) return reject(err);
        stream.write(`${marker}\n`);
        resolve(new ShellSession(stream, marker, hostName));
      });
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  get busy(): boolean {
    return this.pending !== undefined;
  }

  /** Run one line; the caller makes sure calls do not overlap (see busy). */
  run(line: string): Promise<RawResult> {
    if (this.closed) return Promise.reject(failed(`${this.hostName}: the shell session is closed`));
    if (this.pending) return Promise.reject(new Error('ShellSession.run: a call is already running'));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.stream.write(frame(line));
    });
  }

  /** End the session (a call that never answered): the next call opens a new one. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.close();
  }

  private check(): void {
    const p = this.pending;
    if (!p) return;
    const got = takeAnswer(this.out, this.err, this.marker);
    if (!got) return;
    this.out = Buffer.from(got.out);
    this.err = Buffer.from(got.err);
    this.pending = undefined;
    // The output may be a view into a larger buffer that is reused: copy what is returned.
    p.resolve({ code: got.result.code, stdout: Buffer.from(got.result.stdout), stderr: Buffer.from(got.result.stderr) });
  }
}
