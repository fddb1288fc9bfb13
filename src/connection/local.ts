/**
 * The control machine as a host (`delegate_to: localhost`, the `localhost` inventory entry). It
 * runs the very same shell lines as the SSH connection, through `sh -c`, so become, cwd, put
 * and get behave identically and modules cannot tell the difference.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import type { Command } from '../command.js';
import { failed, unreachable } from '../errors.js';
import { commandLine, getCommand, putCommand, signalExitCode, transferFailed } from './shell.js';
import type { Connection, ExecOptions, ExecResult, PutOptions } from './types.js';

interface RawResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

export class LocalConnection implements Connection {
  readonly hostName: string;
  readonly loginUser: string;

  constructor(hostName = 'localhost') {
    this.hostName = hostName;
    this.loginUser = os.userInfo().username;
  }

  async exec(cmd: Command, opts: ExecOptions = {}): Promise<ExecResult> {
    const raw = await this.run(commandLine(cmd, opts, this.loginUser), opts.stdin, opts.timeoutMs);
    return { code: raw.code, stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8') };
  }

  async put(p: string, data: string | Buffer, opts: PutOptions & { become?: boolean | string } = {}): Promise<void> {
    const raw = await this.run(commandLine(putCommand(p, opts), { become: opts.become }, this.loginUser), data);
    if (raw.code !== 0) throw transferFailed(this.hostName, 'put', p, raw.code, raw.stderr.toString('utf8'));
  }

  async get(p: string, opts: { become?: boolean | string } = {}): Promise<Buffer> {
    const raw = await this.run(commandLine(getCommand(p), { become: opts.become }, this.loginUser));
    if (raw.code !== 0) throw transferFailed(this.hostName, 'get', p, raw.code, raw.stderr.toString('utf8'));
    return raw.stdout;
  }

  async close(): Promise<void> {
    /* nothing held open between calls */
  }

  private run(line: string, stdin?: string | Buffer, timeoutMs?: number): Promise<RawResult> {
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
        if (timedOut) return reject(failed(`${this.hostName}: command timed out after ${timeoutMs! / 1000}s: ${line}`));
        const c = code ?? signalExitCode(signal, os.constants.signals as Record<string, number>);
        resolve({ code: c, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut) });
      });
      if (timeoutMs !== undefined && timeoutMs > 0) {
        timer = setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, timeoutMs);
      }
      if (stdin !== undefined) child.stdin.end(stdin);
      else child.stdin.end();
    });
  }
}
