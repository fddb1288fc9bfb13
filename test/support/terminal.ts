/**
 * A real terminal for tests that look at what a person sees: a command run in a detached tmux
 * session of a given size (Debian's tmux), whose screen is read as text while it runs and after
 * it exits. The command runs as on a person's terminal: not in CI (CI=1 would make Flight print
 * plain lines), with a colour terminal type.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { quote } from '../../src/command.js';

const run = promisify(execFile);

export interface Terminal {
  /** The visible screen, lines without trailing blanks, empty lines at the end dropped. */
  screen(): Promise<string[]>;
  /** Read the screen until `test` holds (or throw after `timeoutMs`): the screen that held. */
  waitFor(test: (lines: string[]) => boolean, timeoutMs?: number): Promise<string[]>;
  /** Wait for the command to exit: its exit code and the screen it left. */
  exited(timeoutMs?: number): Promise<{ code: number; lines: string[] }>;
  close(): Promise<void>;
}

const EXIT = 'FLIGHT-TERMINAL-EXIT=';

export async function inTerminal(argv: string[], o: { width: number; height: number; socket: string }): Promise<Terminal> {
  const tmux = (...args: string[]) => run('tmux', ['-L', o.socket, ...args], { encoding: 'utf8' });
  // The exit code is printed after the command, then the pane stays for the last read.
  const line = `env -u CI TERM=xterm-256color ${argv.map(quote).join(' ')}; code=$?; echo; echo ${EXIT}$code; sleep 3600`;
  await tmux('new-session', '-d', '-s', 'view', '-x', String(o.width), '-y', String(o.height), line);
  const screen = async () => {
    const { stdout } = await tmux('capture-pane', '-p', '-t', 'view');
    const lines = stdout.split('\n').map((l) => l.trimEnd());
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    return lines;
  };
  const waitFor = async (test: (lines: string[]) => boolean, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = await screen();
      if (test(lines)) return lines;
      if (Date.now() > deadline) throw new Error(`the terminal never showed what was waited for; it shows:\n${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  return {
    screen,
    waitFor,
    async exited(timeoutMs = 600_000) {
      const lines = await waitFor((l) => l.some((x) => x.startsWith(EXIT)), timeoutMs);
      const at = lines.findIndex((x) => x.startsWith(EXIT));
      const shown = lines.slice(0, at);
      while (shown.length && shown[shown.length - 1] === '') shown.pop();
      return { code: Number(lines[at]!.slice(EXIT.length)), lines: shown };
    },
    async close() {
      await tmux('kill-server').catch(() => undefined);
    },
  };
}
