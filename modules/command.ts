/**
 * command: run one program on the host, without a shell. The program and its arguments travel
 * as argv words (quoted once, in toShell), so a value holding quotes, `$(...)`, `;` or newlines
 * reaches the program intact. `shell` is the same module with `sh -c SCRIPT` as the argv.
 *
 * `creates`/`removes`, `chdir` and `env` are handled by one fixed wrapper script whose inputs
 * are positional arguments, so a task costs exactly one round trip whether it runs or skips.
 */
import { randomBytes } from 'node:crypto';
import type { FromSchema } from 'json-schema-to-ts';
import { script, type Command } from '../src/command.js';
import type { ExecResult } from '../src/connection/types.js';
import { defineModule, type ModuleContext, type ModuleResult } from '../src/module-kit/contract.js';
import { runAction } from '../src/module-kit/operation.js';
import { splitWords } from '../src/module-kit/validate.js';

/** The options `command` and `shell` share, as a JSON schema fragment. */
export const commonProperties = {
  chdir: { type: 'string', minLength: 1 },
  creates: { type: 'string', minLength: 1, description: 'Skip when this path exists on the host.' },
  removes: { type: 'string', minLength: 1, description: 'Skip when this path does not exist on the host.' },
  become_user: { type: 'string', minLength: 1 },
  stdin: { type: 'string' },
  log: { type: 'string', pattern: '^/', description: 'Append the command line and its output to this file on the host (e.g. a release log).' },
  env: {
    type: 'object',
    propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    additionalProperties: { type: 'string' },
  },
  nice: {
    type: 'integer', minimum: 0, maximum: 19,
    description: 'Run below the CPU priority of the services on the host by this much (nice, in a session of its own whose scheduling group is lowered as well), and above 0 also at the lowest best-effort IO priority (ionice), so that work such as a release\'s composer and artisan yields to nginx and PHP-FPM serving traffic.',
  },
} as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    argv: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'Program and arguments, passed as they are (preferred: nothing to split or escape).' },
    cmd: { type: 'string', minLength: 1, description: 'A command line split into words by POSIX shell quoting rules; no shell runs it.' },
    ...commonProperties,
  },
} as const;

/** The arguments, as the schema declares them. */
export type CommandParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Find syntax that only a shell gives meaning to (pipes, redirections, `;`, `&`, `$VAR`,
 * `$(...)`, backticks) outside quotes that would make it literal. `cmd: "a | b"` that silently
 * ran `a` with the arguments `|` and `b` would be a trap, so it is refused with a pointer to the
 * shell module. Returns the offending text, or undefined.
 */
export function shellSyntax(line: string): string | undefined {
  const expansion = (i: number) => line[i] === '`' || (line[i] === '$' && /[A-Za-z_{(0-9@*#?$!-]/.test(line[i + 1] ?? ''));
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = undefined;
    } else if (c === '\\') {
      i++;
    } else if (expansion(i)) {
      return c === '`' ? '`' : line.slice(i, i + 2);
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if ('|&;<>()'.includes(c)) {
      return c;
    }
  }
  return undefined;
}

/** The argv a `command` task asks for, or an error message. */
export function commandArgv(p: CommandParams): string[] | string {
  if ((p.argv === undefined) === (p.cmd === undefined)) return 'give exactly one of argv (a list) or cmd (a string)';
  if (p.argv) return p.argv.length > 0 ? p.argv : 'argv is empty';
  const syntax = shellSyntax(p.cmd!);
  if (syntax) return `cmd contains '${syntax}', which only a shell understands: use the shell module, or quote it`;
  try {
    const words = splitWords(p.cmd!);
    return words.length > 0 ? words : 'cmd is empty';
  } catch (err) {
    return `cmd: ${(err as Error).message}`;
  }
}

/**
 * Run "$2..." below the services' priority by $1 (1-19): CPU niceness and the lowest best-effort
 * IO class. Started in a session of its own (setsid) whose scheduling group is niced as a whole:
 * with autogroup scheduling (Debian's kernels), the scheduler first shares the CPU between
 * sessions, so `nice` alone only ranks processes within one session, and PHP-FPM runs in
 * another. The kernel accepts an unprivileged autogroup change ten times a second at most, over
 * all processes: a busy moment is waited out for up to a second, then the command runs anyway.
 * No single quote in it: the wrapper carries it in one.
 */
const LOWER = `n=$1; shift; i=0
until echo "$n" 2>/dev/null > /proc/self/autogroup || [ ! -e /proc/self/autogroup ] || [ $i -ge 20 ]; do sleep 0.05; i=$((i+1)); done
exec nice -n "$n" ionice -c 2 -n 7 "$@"`;

/**
 * The wrapper: decides creates/removes on the host, then changes directory, exports the
 * environment and execs the program. Every input is a positional argument. In dry mode (check
 * mode) it stops after the creates/removes decision. Markers carry a per-call nonce so that a
 * program's own output can never be mistaken for them.
 */
const WRAPPER = `nonce=$1 dry=$2 creates=$3 removes=$4 chdir=$5 log=$6 nice=$7 nenv=$8
shift 8
if [ -n "$creates" ] && [ -e "$creates" ]; then echo "$nonce skip-creates"; exit 0; fi
if [ -n "$removes" ] && [ ! -e "$removes" ]; then echo "$nonce skip-removes"; exit 0; fi
if [ "$dry" = 1 ]; then echo "$nonce would-run"; exit 0; fi
if [ -n "$chdir" ]; then cd "$chdir" 2>/dev/null || { echo "$nonce no-chdir"; exit 1; }; fi
while [ "$nenv" -gt 0 ]; do export "$1"; shift; nenv=$((nenv - 1)); done
# The command line as given, for the log only: a command substitution costs a fork.
[ -z "$log" ] || shown=$(printf ' %s' "$@")
if [ "$nice" -gt 0 ]; then
  shown="$shown (at nice $nice)"
  set -- setsid -w sh -c '${LOWER}' flight-nice "$nice" "$@"
fi
if [ -n "$log" ]; then
  out=$(mktemp) || exit 1
  "$@" > "$out" 2>&1
  rc=$?
  { printf '$%s\\n' "$shown"; cat "$out"; } >> "$log"
  cat "$out"
  rm -f "$out"
  exit $rc
fi
exec "$@"`;

export interface WrapOptions {
  nonce: string;
  dry: boolean;
  creates?: string;
  removes?: string;
  chdir?: string;
  /** Append the command line and its output (stdout and stderr together) to this file. */
  log?: string;
  env?: Record<string, string>;
  /** Lower CPU (and IO) priority: see the `nice` argument. */
  nice?: number;
}

export function wrapCommand(argv: readonly string[], o: WrapOptions): Command {
  const env = Object.entries(o.env ?? {});
  for (const [k] of env) if (!ENV_NAME.test(k)) throw new Error(`invalid environment variable name '${k}'`);
  return script(
    WRAPPER,
    o.nonce,
    o.dry ? '1' : '0',
    o.creates ?? '',
    o.removes ?? '',
    o.chdir ?? '',
    o.log ?? '',
    String(o.nice ?? 0),
    String(env.length),
    ...env.map(([k, v]) => `${k}=${v}`),
    ...argv,
  );
}

/** The last lines of a command's error output, for a one-line failure message. */
export function outputTail(res: Pick<ExecResult, 'stdout' | 'stderr'>, maxLines = 5, maxChars = 600): string {
  const text = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-maxLines).join(' | ');
  return text.length > maxChars ? `...${text.slice(-maxChars)}` : text;
}

/** A short, printable form of an argv for messages. */
export function shortArgv(argv: readonly string[], max = 80): string {
  const s = argv.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : JSON.stringify(w))).join(' ');
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}

/** A program and the options it runs with. */
interface ArgvTask {
  argv: string[];
  p: Omit<CommandParams, 'argv' | 'cmd'>;
}

const wouldRun = (t: ArgvTask): string => `run: ${shortArgv(t.argv)}`;

/** Run a task under the wrapper (`dry`: decide creates/removes, run nothing) and turn the outcome into a result. */
async function runWrapped(ctx: ModuleContext, t: ArgvTask, dry: boolean): Promise<ModuleResult> {
  const { argv, p } = t;
  const nonce = `flight-${randomBytes(8).toString('hex')}`;
  let cmd: Command;
  try {
    cmd = wrapCommand(argv, { nonce, dry, creates: p.creates, removes: p.removes, chdir: p.chdir, log: p.log, env: p.env, nice: p.nice });
  } catch (err) {
    return { changed: false, failed: true, msg: (err as Error).message };
  }
  const res = await ctx.exec(cmd, {
    ...(p.become_user !== undefined ? { become: p.become_user } : {}),
    ...(p.stdin !== undefined ? { stdin: p.stdin } : {}),
  });
  const marker = res.stdout.startsWith(`${nonce} `) ? res.stdout.slice(nonce.length + 1).trim() : undefined;
  switch (marker) {
    case 'skip-creates':
      return { changed: false, skipped: true, msg: `skipped: ${p.creates} exists` };
    case 'skip-removes':
      return { changed: false, skipped: true, msg: `skipped: ${p.removes} does not exist` };
    case 'would-run':
      return { changed: true, msg: `would ${wouldRun(t)}` };
    case 'no-chdir':
      return { changed: false, failed: true, msg: `chdir: cannot enter ${p.chdir}` };
  }
  // Like Ansible, registered output drops the final newline, so `{{ out.stdout }}` is the value.
  const data = { rc: res.code, stdout: res.stdout.replace(/\n$/, ''), stderr: res.stderr.replace(/\n$/, ''), cmd: argv };
  if (res.code !== 0) return { changed: true, failed: true, msg: `rc=${res.code}: ${outputTail(res)}`, data };
  return { changed: true, msg: `ran: ${shortArgv(argv)}`, data };
}

/** Without creates/removes there is nothing to ask the host: check mode only says what would run. */
const unguarded = runAction<ArgvTask>({ would: wouldRun, act: (ctx, t) => runWrapped(ctx, t, false) });

/** Shared by `command` and `shell`: run argv under the wrapper and turn the outcome into a result. */
export async function runArgv(ctx: ModuleContext, argv: string[], p: Omit<CommandParams, 'argv' | 'cmd'>): Promise<ModuleResult> {
  if (!p.creates && !p.removes) return unguarded(ctx, { argv, p });
  // The exception to the kit: creates/removes are decided on the host by the wrapper, in the
  // round trip that runs the program, so check mode travels to it as data (dry) rather than
  // costing every real run a separate read first.
  return runWrapped(ctx, { argv, p }, ctx.check);
}

export const command = defineModule<CommandParams>({
  name: 'command',
  freeForm: 'cmd',
  schema,
  async run(ctx, p) {
    const argv = commandArgv(p);
    if (typeof argv === 'string') return { changed: false, failed: true, msg: argv };
    return runArgv(ctx, argv, p);
  },
});
