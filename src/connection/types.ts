import type { Command } from '../command.js';

export interface ExecOptions {
  /** Run as this user (root when `true`). Wrapped in one place: see withBecome. */
  become?: boolean | string;
  /** Bytes written to the command's stdin, then stdin is closed. */
  stdin?: string | Buffer;
  /** Working directory on the host. */
  cwd?: string;
  /** Abort after this many milliseconds (the channel is closed, the result is an error). */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PutOptions {
  mode?: number;
  owner?: string;
  group?: string;
}

/**
 * A way to run things on one host. SSH and local implementations exist; nothing above this
 * layer knows which it has. Methods reject with a FlightError of kind 'unreachable' when the
 * transport fails; a command that runs and exits non-zero is a normal result, not an error.
 */
export interface Connection {
  readonly hostName: string;
  /** The user the connection is logged in as (decides how `become` is done). */
  readonly loginUser: string;
  exec(cmd: Command, opts?: ExecOptions): Promise<ExecResult>;
  /** Write bytes to `path` (overwriting). Atomic replacement is the caller's job (temp + rename). */
  put(path: string, data: string | Buffer, opts?: PutOptions & { become?: boolean | string }): Promise<void>;
  /** Read a file's bytes. */
  get(path: string, opts?: { become?: boolean | string }): Promise<Buffer>;
  close(): Promise<void>;
}
