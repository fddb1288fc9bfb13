/**
 * Commands are data. Nothing in Flight glues a shell string by hand: a module builds an argv
 * array (or a fixed script whose inputs travel as positional arguments), and `toShell` is the
 * one place that quotes. That makes injection through a value impossible by construction and
 * lets check mode and -vv print exactly what would run.
 */
export type Command =
  | { readonly argv: readonly string[] }
  | { readonly script: string; readonly args?: readonly string[] };

export const argv = (...args: string[]): Command => ({ argv: args });

/**
 * A POSIX sh script; `args` become $1, $2, ... so values never enter the script text.
 * Scripts run with `set -e` semantics only if they say so themselves.
 */
export const script = (text: string, ...args: string[]): Command => ({ script: text, args });

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one word for a POSIX shell. */
export function quote(word: string): string {
  if (word === '') return "''";
  if (SAFE.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The single place a Command becomes a shell line. */
export function toShell(cmd: Command): string {
  if ('argv' in cmd) {
    if (cmd.argv.length === 0) throw new Error('empty argv');
    return cmd.argv.map(quote).join(' ');
  }
  return ['sh', '-c', cmd.script, 'flight', ...(cmd.args ?? [])].map(quote).join(' ');
}

export interface Become {
  /** The user the command should run as. */
  user: string;
  /** The user the connection is logged in as. */
  loginUser: string;
}

/**
 * Wrap a shell line so it runs as another user. Root switches with runuser (always present,
 * no sudoers needed); anyone else goes through non-interactive sudo. HOME is set to the target
 * user's home so tools such as composer find their cache there.
 */
export function withBecome(line: string, become?: Become): string {
  if (!become || become.user === become.loginUser) return line;
  if (become.loginUser === 'root') {
    return `runuser -u ${quote(become.user)} -- sh -c ${quote(`HOME=$(getent passwd "$(id -un)" | cut -d: -f6) && export HOME && ${line}`)}`;
  }
  if (become.user === 'root') return `sudo -n -H -- sh -c ${quote(line)}`;
  return `sudo -n -H -u ${quote(become.user)} -- sh -c ${quote(line)}`;
}

/** A short human form for logs and check mode output. */
export function describe(cmd: Command): string {
  return toShell(cmd);
}
