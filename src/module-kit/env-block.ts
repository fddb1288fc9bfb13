/**
 * An app's .env when Flight manages some of its keys: the user's part, byte for byte as pushed,
 * then Flight's block at the end:
 *
 *   <user part>
 *   # >>> Flight: managed by `flight app:configure` (...)
 *   DB_HOST="10.0.0.5"
 *   # <<< Flight
 *
 * The block goes LAST because a later assignment wins. Checked with Debian's Laravel 8.83 and
 * phpdotenv 5.4.1 (loaded as LoadEnvironmentVariables does: Dotenv::create(Env::getRepository(),
 * ...)->safeLoad()): with `DB_PASSWORD=user` then `DB_PASSWORD="flight"` in one file, env()
 * returns "flight". Laravel's repository is immutable only towards variables that existed before
 * the load (ImmutableWriter::isExternallyDefined); what the same load set, it overwrites. So a
 * variable set in the real environment (an FPM pool's env[...]) still wins over both parts.
 *
 * The functions here are pure and work on bytes: the user part is never decoded, so it comes
 * back exactly, whatever its encoding or line endings.
 */

/** The block's first line as written. Recognised by START_PREFIX, so its wording may change. */
export const BLOCK_START = '# >>> Flight: managed by `flight app:configure` (do not edit; these win over the same keys above)';
const START_PREFIX = '# >>> Flight';
export const BLOCK_END = '# <<< Flight';

const KEY = /^[A-Z_][A-Z0-9_]*$/;
const BLOCK_LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

export interface EnvParts {
  /** The user's part, exactly as pushed. */
  user: Buffer;
  /** Flight's block as it is in the file, from its first line to the end; none: no block. */
  block?: Buffer;
}

/**
 * Split a file into the user's part and Flight's block. The block is the last line starting
 * with "# >>> Flight" through a last line "# <<< Flight" (a final newline or not); anything else
 * is all user part. Searching from the end means a user line that merely looks like a marker
 * (an end marker anywhere, a start marker not followed by a block to the end) stays the user's.
 *
 * compose puts a newline before the block (unless the user part is empty), so the one byte
 * before the block's start line belongs to the block: that is how a user part without a final
 * newline comes back without one, and one with a newline comes back with it.
 */
export function splitEnv(file: Buffer): EnvParts {
  // latin1 maps each byte to one character, so string offsets are byte offsets.
  const text = file.toString('latin1');
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  if (body !== BLOCK_END && !body.endsWith(`\n${BLOCK_END}`)) return { user: file };
  const start = body.startsWith(START_PREFIX) ? lastStart(body, 0) : lastStart(body, -1);
  if (start < 0) return { user: file };
  return { user: file.subarray(0, Math.max(start - 1, 0)), block: file.subarray(start) };
}

/** Offset of the last line starting with the start marker (`first`: 0 when the file starts with one). */
function lastStart(body: string, first: number): number {
  const at = body.lastIndexOf(`\n${START_PREFIX}`);
  return at >= 0 ? at + 1 : first;
}

/**
 * The file for these parts; throws when the user part would not come back from it. That is a
 * user part ending in a Flight block (a file pulled without `env: true`): with no block of
 * Flight's after it, it would be taken for one.
 */
export function composeEnv(parts: EnvParts): Buffer {
  if (splitEnv(parts.user).block) {
    throw new Error("the .env's own part ends with a Flight block (\"# >>> Flight ... # <<< Flight\"): remove it, Flight writes its block itself");
  }
  if (!parts.block) return parts.user;
  const sep = parts.user.length > 0 ? [Buffer.from('\n')] : [];
  return Buffer.concat([parts.user, ...sep, parts.block]);
}

/**
 * A value as phpdotenv 5 reads it back unchanged: in double quotes, with `\`, `"` and `$`
 * escaped. Double quotes because single ones cannot hold a `'`; `$` escaped because phpdotenv
 * expands `${NAME}` inside double quotes (and unquoted), and `\$` is its literal dollar. Line
 * breaks are refused: they would end the line. So is NUL, which no environment variable holds.
 * The message names the key, never the value.
 */
export function quoteEnvValue(key: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error(`managed key ${key}: the value contains a line break or a NUL byte, which a .env line cannot hold`);
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

export type ManagedValues = Record<string, string | number | boolean>;

/**
 * Flight's block for these keys, sorted so one set of keys has one form whatever the order it
 * was given in; none for no keys (the block is removed). Throws on a key that is not an
 * environment variable name.
 */
export function renderBlock(managed: ManagedValues): Buffer | undefined {
  const keys = Object.keys(managed).sort();
  if (keys.length === 0) return undefined;
  const lines = keys.map((key) => {
    if (!KEY.test(key)) throw new Error(`managed key ${JSON.stringify(key)} is not a valid name: upper case letters, digits and _, not starting with a digit`);
    return `${key}=${quoteEnvValue(key, String(managed[key]))}`;
  });
  return Buffer.from([BLOCK_START, ...lines, BLOCK_END, ''].join('\n'));
}

/** The block's keys with their lines' value text (still quoted), for naming what changed. */
export function blockEntries(block: Buffer | undefined): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of block?.toString('latin1').split('\n') ?? []) {
    const m = BLOCK_LINE.exec(line);
    if (m) entries.set(m[1]!, m[2]!);
  }
  return entries;
}

export interface KeyChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

/** Which of the block's keys were added, removed or given another value (names only, sorted). */
export function keyChanges(before: Buffer | undefined, after: Buffer | undefined): KeyChanges {
  const old = blockEntries(before);
  const now = blockEntries(after);
  const sorted = (keys: Iterable<string>) => [...keys].sort();
  return {
    added: sorted([...now.keys()].filter((k) => !old.has(k))),
    removed: sorted([...old.keys()].filter((k) => !now.has(k))),
    changed: sorted([...now.keys()].filter((k) => old.has(k) && old.get(k) !== now.get(k))),
  };
}
