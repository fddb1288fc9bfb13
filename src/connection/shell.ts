/**
 * What the SSH and local connections share: how an exec request becomes one shell line, the
 * commands behind put and get, and a base class that implements exec/put/get on top of a
 * transport's "run this line". Both transports run exactly these lines, so a module sees the
 * same behaviour on either, and all quoting still happens in src/command.ts.
 */
import { randomBytes } from 'node:crypto';
import { argv, quote, script, toShell, withBecome, type Command } from '../command.js';
import { failed } from '../errors.js';
import type { Connection, ExecOptions, ExecResult, PutOptions } from './types.js';

/** `become: true` means root; a string names the user; false/undefined means the login user. */
export function becomeUser(become: boolean | string | undefined): string | undefined {
  if (become === true) return 'root';
  if (typeof become === 'string' && become !== '') return become;
  return undefined;
}

/**
 * The full line for one exec. `cd` goes inside the become wrapper so the directory is entered
 * as the target user, who may be the only one allowed into it (an app's 0750 home).
 *
 * `remoteTimeoutMs` puts the command under coreutils `timeout`, also inside become so it can
 * signal what it started. The SSH transport needs this: OpenSSH ignores channel signal requests
 * for commands without a tty, and closing a channel does not stop its command, so only a
 * timer on the host itself can end a hung command. `timeout` kills its whole process group
 * (TERM, then KILL 2 s later) and exits 124.
 */
export function commandLine(
  cmd: Command,
  opts: Pick<ExecOptions, 'become' | 'cwd'> & { remoteTimeoutMs?: number },
  loginUser: string,
): string {
  let line = toShell(cmd);
  if (opts.cwd !== undefined) line = `${toShell(argv('cd', '--', opts.cwd))} && ${line}`;
  if (opts.remoteTimeoutMs !== undefined && opts.remoteTimeoutMs > 0) {
    const secs = String(Math.max(opts.remoteTimeoutMs, 1) / 1000);
    line = toShell(argv('timeout', '-k', '2', secs, 'sh', '-c', line));
  }
  const user = becomeUser(opts.become);
  return withBecome(line, user ? { user, loginUser } : undefined);
}

/**
 * The same call for a shell that runs each line in a subshell of its own (the SSH shell
 * session, session.ts): a script's text runs right in that subshell, its arguments set with
 * `set --`, instead of in a new `sh -c`. That saves one program start per call (~5 ms of the
 * ~14 ms a file task's read costs on the lab). Undefined when a new process is needed anyway
 * (another user, a host-side timeout, a script that uses `$$`) or the command is an argv (the
 * subshell runs it directly).
 */
export function inlineLine(cmd: Command, opts: Pick<ExecOptions, 'become' | 'cwd'> & { remoteTimeoutMs?: number }, loginUser: string): string | undefined {
  // In a subshell `$$` is the session's own shell: a script that uses it gets a process of its own.
  if (!('script' in cmd) || cmd.script.includes('$$')) return undefined;
  const user = becomeUser(opts.become);
  if ((user !== undefined && user !== loginUser) || (opts.remoteTimeoutMs !== undefined && opts.remoteTimeoutMs > 0)) return undefined;
  const cd = opts.cwd !== undefined ? `${toShell(argv('cd', '--', opts.cwd))} || exit\n` : '';
  return `${cd}set -- ${(cmd.args ?? []).map(quote).join(' ')}\n${cmd.script}`;
}

/**
 * Stdin a shell session can carry inside the call itself: text (valid UTF-8, no NUL byte) that
 * ends with a newline, up to this size. The session's loop reads its input a byte at a time
 * (~1.5 us a byte on a small VM), so past a few KB an exec request is the cheaper way.
 */
export const SESSION_STDIN_MAX = 8 * 1024;

/**
 * What a shell session (session.ts) runs for one call: the inline form of a script, else the
 * full command line, with stdin (if any) as a here-document under a random delimiter that no
 * line of it equals. The content passes from the loop's input to the command's stdin: it never
 * becomes a process argument, so `ps` never shows a secret file being written. Undefined when
 * stdin cannot travel that way (binary, large, no final newline): the call needs an exec request.
 * `full` is the call's command line (commandLine), when the caller has built it already.
 */
export function sessionLine(
  cmd: Command,
  opts: Pick<ExecOptions, 'become' | 'cwd'> & { remoteTimeoutMs?: number },
  loginUser: string,
  stdin?: string | Buffer,
  full = commandLine(cmd, opts, loginUser),
): string | undefined {
  const line = inlineLine(cmd, opts, loginUser) ?? full;
  if (stdin === undefined) return line;
  const isText = typeof stdin === 'string';
  const text = isText ? stdin : stdin.toString('utf8');
  const bytes = isText ? Buffer.byteLength(stdin) : stdin.length;
  if (bytes > SESSION_STDIN_MAX || !text.endsWith('\n') || text.includes('\0')) return undefined;
  if (!isText && !Buffer.from(text, 'utf8').equals(stdin)) return undefined;
  const eof = `FLIGHT_EOF_${randomBytes(12).toString('hex')}`;
  return `{\n${line}\n} <<'${eof}'\n${text}${eof}`;
}

/**
 * put as one remote command: stdin is the file's bytes. When a mode is given the file is
 * created under umask 077 and an existing file is closed to group/other before its content is
 * replaced, so a secret is never readable by others, not even between write and chmod.
 * chown comes before chmod because chown clears setuid/setgid bits.
 */
const PUT_SCRIPT = [
  'p=$1',
  'if [ -n "$2" ]; then umask 077; if [ -e "$p" ]; then chmod go= -- "$p" || exit 1; fi; fi',
  'cat > "$p" || exit 1',
  'if [ -n "$3" ]; then chown -- "$3" "$p" || exit 1; fi',
  'if [ -n "$2" ]; then chmod -- "$2" "$p" || exit 1; fi',
].join('\n');

export function putCommand(path: string, opts: PutOptions = {}): Command {
  let mode = '';
  if (opts.mode !== undefined) {
    if (!Number.isInteger(opts.mode) || opts.mode < 0 || opts.mode > 0o7777) throw new Error(`invalid file mode ${opts.mode}`);
    mode = opts.mode.toString(8).padStart(4, '0');
  }
  // `chown user:` would also set the user's login group, so build the spec by hand.
  const owner = opts.owner ?? '';
  const group = opts.group ?? '';
  const chown = owner && group ? `${owner}:${group}` : owner ? owner : group ? `:${group}` : '';
  return script(PUT_SCRIPT, path, mode, chown);
}

export function getCommand(path: string): Command {
  return argv('cat', '--', path);
}

/** The error put/get raise when their command ran but failed (a permission, a missing dir). */
function transferFailed(hostName: string, what: string, path: string, code: number, stderr: string) {
  const detail = stderr.trim() || `exit code ${code}`;
  return failed(`${hostName}: ${what} ${path} failed: ${detail}`);
}

/** Turn an exit signal name into the shell's 128+N convention, so callers always get a number. */
export function signalExitCode(signal: string | undefined | null, signals: Record<string, number>): number {
  if (!signal) return 255;
  const name = signal.startsWith('SIG') ? signal : `SIG${signal}`;
  const n = signals[name];
  return n === undefined ? 255 : 128 + n;
}

/** Output kept as bytes: get needs them raw, and exec decodes once so no character splits. */
export interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export interface Timeout {
  ms: number;
  /** The command as the caller gave it, for the error message. */
  label: string;
}

export const timedOutError = (hostName: string, t: Timeout) =>
  failed(`${hostName}: command timed out after ${t.ms / 1000}s: ${t.label}`);

/** exec, put and get for a transport that can run one shell line with optional stdin. */
export abstract class ShellConnection implements Connection {
  abstract readonly hostName: string;
  abstract readonly loginUser: string;
  /** Whether exec timeouts must also be enforced on the host (see commandLine). */
  protected abstract readonly hostSideTimeout: boolean;
  /**
   * Run one complete line. `timeout` is only given for exec calls that asked for one; `inSession`,
   * when given, is the same call for a shell session, stdin included (see sessionLine).
   */
  protected abstract run(line: string, stdin?: string | Buffer, timeout?: Timeout, inSession?: string): Promise<RawResult>;
  abstract close(): Promise<void>;

  async exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeout = opts.timeoutMs ? { ms: opts.timeoutMs, label: toShell(cmd) } : undefined;
    const remoteTimeoutMs = this.hostSideTimeout ? opts.timeoutMs : undefined;
    const raw = await this.send(cmd, { ...opts, remoteTimeoutMs }, opts.stdin, timeout);
    return { code: raw.code, stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8') };
  }

  async put(path: string, data: string | Buffer, opts: PutOptions & { become?: boolean | string } = {}): Promise<void> {
    const raw = await this.send(putCommand(path, opts), { become: opts.become }, data);
    if (raw.code !== 0) throw transferFailed(this.hostName, 'put', path, raw.code, raw.stderr.toString('utf8'));
  }

  async get(path: string, opts: { become?: boolean | string } = {}): Promise<Buffer> {
    const raw = await this.send(getCommand(path), { become: opts.become });
    if (raw.code !== 0) throw transferFailed(this.hostName, 'get', path, raw.code, raw.stderr.toString('utf8'));
    return raw.stdout;
  }

  /** One call: its command line, built once, and the same call for a shell session. */
  private send(cmd: Command, opts: Pick<ExecOptions, 'become' | 'cwd'> & { remoteTimeoutMs?: number }, stdin?: string | Buffer, timeout?: Timeout): Promise<RawResult> {
    const line = commandLine(cmd, opts, this.loginUser);
    return this.run(line, stdin, timeout, sessionLine(cmd, opts, this.loginUser, stdin, line));
  }
}
