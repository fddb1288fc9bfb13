/**
 * The SSH connection: one ssh2 client per host (opened by ssh-connect.ts), opened once. The
 * handshake (100-250 ms) is paid once per host per run. Calls run in one long-lived shell session on it (session.ts), one after
 * another, with no new session or process started per call on either side; calls whose stdin
 * the session cannot carry (binary or large; see sessionLine), and calls made while the session
 * is busy, are exec requests (a channel each).
 */
import os from 'node:os';
import type { Duplex } from 'node:stream';
import type { Client as SshClient } from 'ssh2';
import { messageOf, unreachable } from '../errors.js';
import type { Host } from '../inventory/types.js';
import { connectClient, openBastion, resolveTuning, targetEndpoint, tunnel, type SshConnectOptions, type SshTuning } from './ssh-connect.js';
import { ShellSession } from './session.js';
import { ShellConnection, signalExitCode, timedOutError, type RawResult, type Timeout } from './shell.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What SshConnection.startCall hands a call: see there. */
interface Call {
  /** Run fn for the first outcome; later ones are ignored. */
  settle(fn: () => void): void;
  readonly settled: boolean;
  /** Set once the call's time is up: whatever comes back now is this error. */
  readonly timedOut: Error | undefined;
  /** Start the timeout (if any); `abandon` ends the call when the host never answers. */
  arm(timeout: Timeout | undefined, abandon: () => void): void;
}

export class SshConnection extends ShellConnection {
  readonly hostName: string;
  readonly loginUser: string;
  protected readonly hostSideTimeout = true;
  /** Set once the transport is gone; every later call rejects with it. */
  private lost?: Error;
  private active = 0;
  private readonly waiting: Array<{ go: () => void; stop: (err: Error) => void }> = [];
  /** Rejecters of calls with an open channel, failed together when the connection drops. */
  private readonly inflight = new Set<(err: Error) => void>();
  private readonly closedP: Promise<void>;
  private maxChannels: number;
  /**
   * The channel limit in force: starts at maxChannels, drops by one whenever the server refuses
   * a channel (a host with a lower MaxSessions, or sessions the server has not reaped yet) and
   * climbs back after a run of successful opens.
   */
  private limit: number;
  private opensSinceRefusal = 0;
  /** The shell session calls run in (opened on first use, reopened after one is lost); see session.ts. */
  private session?: Promise<ShellSession>;
  /** False when this connection uses exec requests only (turned off, or the server refused the session). */
  private sessions: boolean;

  private constructor(
    host: Host,
    private readonly client: SshClient,
    private readonly ownBastion: SshClient | undefined,
    tuning: Required<SshTuning>,
  ) {
    super();
    this.hostName = host.name;
    this.loginUser = host.ssh.user;
    this.sessions = tuning.shellSession;
    // One channel is the shell session's for the life of the connection.
    this.maxChannels = Math.max(1, tuning.maxChannels - (this.sessions ? 1 : 0));
    this.limit = this.maxChannels;
    let reason: string | undefined;
    client.on('error', (err: Error & { level?: string }) => {
      reason = err.level === 'client-timeout' ? 'keepalive timeout: the host stopped answering' : err.message;
    });
    this.closedP = new Promise((resolve) => {
      client.once('close', () => {
        this.drop(unreachable(`${this.hostName}: connection lost: ${reason ?? 'closed by the remote host'}`));
        this.ownBastion?.end();
        resolve();
      });
    });
  }

  /** Open (handshake and log in) a connection to `host`, through its jump host if it has one. */
  static async connect(host: Host, opts: SshConnectOptions = {}): Promise<SshConnection> {
    const tuning = resolveTuning(opts);
    const ep = targetEndpoint(host);
    let ownBastion: SshClient | undefined;
    let sock: Duplex | undefined;
    if (host.ssh.jump) {
      const bastion = opts.bastion ?? (ownBastion = await openBastion(host, tuning));
      try {
        sock = await tunnel(bastion, host);
      } catch (err) {
        ownBastion?.end();
        throw err;
      }
    }
    try {
      const client = await connectClient(ep, tuning, sock);
      return new SshConnection(host, client, ownBastion, tuning);
    } catch (err) {
      ownBastion?.end();
      throw err;
    }
  }

  /** False once the connection has dropped or been closed. */
  get alive(): boolean {
    return this.lost === undefined;
  }

  async close(): Promise<void> {
    if (!this.lost) this.drop(unreachable(`${this.hostName}: connection closed`));
    this.client.end();
    // end() is a polite disconnect; do not let a silent peer hold the caller up.
    const timer = setTimeout(() => this.client.destroy(), 2000);
    await this.closedP;
    clearTimeout(timer);
  }

  private drop(err: Error): void {
    if (this.lost) return;
    this.lost = err;
    for (const w of this.waiting.splice(0)) w.stop(err);
    for (const reject of [...this.inflight]) reject(err);
    this.inflight.clear();
  }

  /** Wait for a channel slot: at most `limit` channels are open at once. */
  private acquire(): Promise<void> {
    if (this.lost) return Promise.reject(this.lost);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((go, stop) => this.waiting.push({ go, stop }));
  }

  private release(): void {
    if (this.active > this.limit) {
      this.active--; // the limit was lowered: this slot goes away instead of passing on
      return;
    }
    const next = this.waiting.shift();
    if (next) next.go(); // the slot passes straight to the next caller
    else this.active--;
  }

  private channelOpened(): void {
    if (this.limit >= this.maxChannels || ++this.opensSinceRefusal < 50) return;
    this.limit++;
    this.opensSinceRefusal = 0;
    while (this.active < this.limit && this.waiting.length > 0) {
      this.active++;
      this.waiting.shift()!.go();
    }
  }

  private channelRefused(): void {
    this.limit = Math.max(1, this.limit - 1);
    this.opensSinceRefusal = 0;
  }

  protected async run(line: string, stdin?: string | Buffer, timeout?: Timeout, inSession?: string): Promise<RawResult> {
    if (inSession !== undefined && this.sessions) {
      const session = await this.idleSession();
      // Checked again here, in the same tick as the call starts: another call may have taken
      // the session while this one waited for it.
      if (session?.usable && !session.busy) return this.inSession(session, inSession, timeout);
    }
    await this.acquire();
    try {
      // A refused channel open is a full session table on the server, which clears as it reaps
      // finished sessions: back off and retry for a while rather than call a live host
      // unreachable. The slot is held meanwhile, which is the conservative choice.
      const deadline = Date.now() + 15_000;
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.channel(line, stdin, timeout);
        } catch (err) {
          const e = err as Error & { openFailure?: boolean };
          if (!e.openFailure || this.lost) throw err;
          this.channelRefused();
          if (Date.now() >= deadline) throw unreachable(`${this.hostName}: ${e.message}`, e);
          await sleep(Math.min(20 * 2 ** attempt, 500));
        }
      }
    } finally {
      this.release();
    }
  }

  /** The shell session when it is free (opening it on first use), else undefined: use a channel. */
  private async idleSession(): Promise<ShellSession | undefined> {
    if (this.lost) throw this.lost;
    if (this.session) {
      const s = await this.session.catch(() => undefined);
      if (s?.usable) return s.busy ? undefined : s;
      if (this.lost) throw this.lost;
    }
    const opening = ShellSession.open((l, cb) => this.client.exec(l, cb), this.hostName);
    this.session = opening;
    try {
      const s = await opening;
      return s.busy ? undefined : s;
    } catch {
      // A server that refuses one more session (a low MaxSessions) still takes exec requests
      // between calls: this connection uses those from now on.
      this.sessions = false;
      this.maxChannels = Math.max(1, this.maxChannels + 1);
      return undefined;
    }
  }

  /**
   * One call's bookkeeping, for a channel or the shell session: settled once, by its first
   * outcome; failed with the others when the connection drops; and the two-step timeout of arm().
   */
  private startCall(reject: (err: Error) => void): Call {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let timedOut: Error | undefined;
    const call: Call = {
      settle: (fn) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        this.inflight.delete(onLost);
        fn();
      },
      get settled() {
        return settled;
      },
      get timedOut() {
        return timedOut;
      },
      arm: (timeout, abandon) => {
        if (!timeout) return;
        // The host's own `timeout` (see commandLine) ends the command; this timer only decides
        // that whatever comes back now is a timeout, not a result. A host without coreutils'
        // timeout (or a stuck one) still gets an answer: 5 s later the call is abandoned.
        timer = setTimeout(() => {
          timedOut = timedOutError(this.hostName, timeout);
          timer = setTimeout(() => {
            abandon();
            call.settle(() => reject(timedOut!));
          }, 5000);
        }, timeout.ms);
      },
    };
    const onLost = (err: Error) => call.settle(() => reject(err));
    this.inflight.add(onLost);
    return call;
  }

  private inSession(session: ShellSession, line: string, timeout: Timeout | undefined): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      const call = this.startCall(reject);
      // A command that outlives even the host's timeout takes the session with it.
      call.arm(timeout, () => session.close());
      session.run(line).then(
        (r) => call.settle(() => (call.timedOut ? reject(call.timedOut) : resolve(r))),
        (err: Error) => call.settle(() => reject(this.lost ?? call.timedOut ?? err)),
      );
    });
  }

  private channel(line: string, stdin: string | Buffer | undefined, timeout: Timeout | undefined): Promise<RawResult> {
    return new Promise((resolve, reject) => {
      if (this.lost) return reject(this.lost);
      const call = this.startCall(reject);
      const settle = call.settle;
      try {
        this.client.exec(line, (err, stream) => {
          if (err) {
            const e = new Error(`cannot open a channel: ${err.message}`) as Error & { openFailure?: boolean };
            e.openFailure = true;
            return settle(() => reject(this.lost ?? e));
          }
          if (call.settled) {
            stream.close(); // the connection dropped while the channel was opening
            return;
          }
          this.channelOpened();
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let code: number | undefined;
          let signal: string | undefined;
          stream.on('data', (d: Buffer) => out.push(d));
          stream.stderr.on('data', (d: Buffer) => errOut.push(d));
          stream.on('exit', (c: number | null, sig?: string) => {
            if (typeof c === 'number') code = c;
            else signal = sig;
          });
          stream.on('close', () => {
            if (call.timedOut) return settle(() => reject(call.timedOut));
            if (code === undefined && signal === undefined && this.lost) return settle(() => reject(this.lost!));
            const c = code ?? signalExitCode(signal, os.constants.signals as Record<string, number>);
            settle(() => resolve({ code: c, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut) }));
          });
          stream.on('error', () => {}); // surfaced through 'close' and the client's events
          // The channel slot stays taken until the host confirms the end, so the limit holds.
          call.arm(timeout, () => stream.close());
          if (stdin !== undefined) stream.end(stdin);
          else stream.end();
        });
      } catch (err) {
        // ssh2 throws synchronously when the transport is already gone.
        settle(() => reject(this.lost ?? unreachable(`${this.hostName}: connection lost: ${messageOf(err)}`, err)));
      }
    });
  }
}
