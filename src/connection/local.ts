/**
 * The control machine as a host (`delegate_to: localhost`, the `localhost` inventory entry). It
 * runs the very same shell lines as the SSH connection, through `sh -c`, so become, cwd, put
 * and get behave identically and modules cannot tell the difference.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { unreachable } from '../errors.js';
import { ShellConnection, signalExitCode, timedOutError, type RawResult, type Timeout } from './shell.js';

export class LocalConnection extends ShellConnection {
  readonly hostName: string;
  readonly loginUser: string;
  /** Killing the local process group is enough; no need for coreutils' timeout here. */
  protected readonly hostSideTimeout = false;

  constructor(hostName = 'localhost') {
    super();
    this.hostName = hostName;
    this.loginUser = os.userInfo().username;
  }

  async close(): Promise<void> {
    /* nothing held open between calls */
  }

  protected run(line: string, stdin?: string | Buffer, timeout?: Timeout): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      // Its own process group, so a timeout kills the whole pipeline, not just the shell.
      const child = spawn('sh', ['-c', line], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let timedOut = false;
      let timer: NodeJS.Timeout | undefined;
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => errOut.push(d));
      // A command that exits without reading its stdin closes the pipe under us: not an error.
      child.stdin.on('error', () => {});
      child.on('error', (err) => {
        if (timer) clearTimeout(timer);
        reject(unreachable(`${this.hostName}: cannot run sh on the control machine: ${err.message}`, err));
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (timedOut) return reject(timedOutError(this.hostName, timeout!));
        const c = code ?? signalExitCode(signal, os.constants.signals as Record<string, number>);
        resolve({ code: c, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut) });
      });
      if (timeout) {
        timer = setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, timeout.ms);
      }
      if (stdin !== undefined) child.stdin.end(stdin);
      else child.stdin.end();
    });
  }
}
