/**
 * env_file: an app's .env as two parts (src/module-kit/env-block.ts): the user's part, as pushed,
 * and Flight's block of managed keys at the end. Each task sets one part or both and keeps the
 * other as it is on the host, so `flight env:push` and `flight app:configure` never clobber
 * each other.
 *
 * The file is a secret. Its bytes are read with one `get` (the -vv log names only the path; an
 * exec's output would be logged) and compared locally; the file is written, atomically and
 * 0600, only when the bytes differ. Nothing this module reports holds a value: diffs and
 * messages name the block's keys that changed and say whether the user's part did.
 *
 * A file whose bytes are right is not checked for mode and owner: its content can only come
 * through `get`, which carries no attributes, and asking for them would cost a second round
 * trip on every run. They are set whenever the file is written.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule, type FileDiff, type ModuleContext, type ModuleResult } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import type { PathState } from '../src/module-kit/facts/file.js';
import { blockEntries, composeEnv, keyChanges, renderBlock, splitEnv, type EnvParts, type KeyChanges } from '../src/module-kit/env-block.js';
import { givenContent, pendingParent, writeAtomic } from '../src/module-kit/write.js';
import { ownerSchema, pathSchema } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: pathSchema,
    owner: ownerSchema,
    group: ownerSchema,
    src: { type: 'string', minLength: 1, description: "Local file (relative to the playbook) holding the user's part." },
    content: { type: 'string', description: "The user's part inline. Neither src nor content: keep the user's part on the host." },
    managed: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] }, description: "Flight's keys. Absent: keep the block on the host; {}: remove it." },
  },
} as const;

/** The arguments, as the schema declares them. */
export type EnvFileParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** The current file, or the state of its path when there is none. */
type Current = { bytes: Buffer } | { missing: PathState };

/**
 * One `get`. Only when it fails does a stat tell a missing file (to be created) from one that
 * cannot be read: treating an unreadable file as empty would drop the part this task keeps.
 */
async function readCurrent(ctx: ModuleContext, path: string): Promise<Current | { error: string }> {
  try {
    return { bytes: await ctx.get(path) };
  } catch (err) {
    const [state] = await ctx.stat([{ path }]);
    if (state!.type === 'missing') return { missing: state! };
    return { error: `cannot read ${path}: ${(err as Error).message}` };
  }
}

/** The user's part the task gives (src or content), or undefined to keep the host's. */
async function givenUserPart(ctx: ModuleContext, p: EnvFileParams): Promise<Buffer | undefined | { error: string }> {
  const given = await givenContent(ctx, p);
  return typeof given === 'string' ? Buffer.from(given) : given;
}

/** What changed between the two files, by part and by key name. */
export interface EnvChanges extends KeyChanges {
  created: boolean;
  user: boolean;
}

export function envChanges(before: EnvParts | undefined, after: EnvParts): EnvChanges {
  return {
    created: before === undefined,
    user: !(before?.user ?? Buffer.alloc(0)).equals(after.user),
    ...keyChanges(before?.block, after.block),
  };
}

/** One line naming what changed, never a value: "user part changed, Flight keys added: DB_PORT". */
export function describeEnvChanges(c: EnvChanges): string {
  const said: string[] = [];
  if (c.created) said.push('created');
  else if (c.user) said.push('user part changed');
  if (c.added.length) said.push(`Flight keys added: ${c.added.join(', ')}`);
  if (c.removed.length) said.push(`Flight keys removed: ${c.removed.join(', ')}`);
  if (c.changed.length) said.push(`Flight keys changed: ${c.changed.join(', ')}`);
  // The bytes differ with nothing above to name: the block itself was rewritten (edited by hand).
  return said.length ? said.join(', ') : 'Flight block rewritten';
}

/**
 * A side of the diff: the user's part as one hidden line, the block as its key names, each
 * marked when it changed, so a unified diff shows which changed and nothing else.
 */
function diffSide(parts: EnvParts, changed: { user: boolean; keys: ReadonlySet<string> }): string {
  const lines = [changed.user ? '(user part hidden, changed)' : '(user part hidden)'];
  const keys = [...blockEntries(parts.block).keys()].sort();
  if (keys.length) lines.push('# >>> Flight', ...keys.map((k) => `${k}=(hidden${changed.keys.has(k) ? ', changed' : ''})`), '# <<< Flight');
  return `${lines.join('\n')}\n`;
}

export function envDiff(path: string, before: EnvParts | undefined, after: EnvParts, c: EnvChanges): FileDiff {
  const none = { user: false, keys: new Set<string>() };
  return {
    path,
    before: before ? diffSide(before, none) : '',
    after: diffSide(after, { user: c.user && before !== undefined, keys: new Set(c.changed) }),
  };
}

/** What a task sets: the user's part (none: keep the host's), and Flight's block when `setBlock` (none then: remove it). */
export interface EnvWant {
  user?: Buffer;
  setBlock: boolean;
  block?: Buffer;
}

/** The file to write, with its parts and what changed (`before` none: there is no file yet). */
export interface EnvWrite {
  bytes: Buffer;
  before?: EnvParts;
  after: EnvParts;
  changes: EnvChanges;
}

export interface EnvFilePlan {
  error?: string;
  /** None: the bytes on the host are already right. */
  write?: EnvWrite;
}

/** Decide (pure) from the host's file (none: missing) what to write, keeping the part the task does not set. */
export function planEnvFile(current: Buffer | undefined, want: EnvWant): EnvFilePlan {
  const before = current ? splitEnv(current) : undefined;
  const after: EnvParts = { user: want.user ?? before?.user ?? Buffer.alloc(0), block: want.setBlock ? want.block : before?.block };
  let bytes: Buffer;
  try {
    bytes = composeEnv(after);
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (current?.equals(bytes)) return {};
  return { write: { bytes, before, after, changes: envChanges(before, after) } };
}

const fail = (msg: string): { result: ModuleResult } => ({ result: { changed: false, failed: true, msg } });

export const env_file = defineModule<EnvFileParams>({
  name: 'env_file',
  schema,
  secretParams: ['content', 'managed'],
  run: runOperation<EnvFileParams, { current: Current; want: EnvWant }, EnvFilePlan>({
    async read(ctx, p) {
      if (p.src !== undefined && p.content !== undefined) return fail('env_file takes src or content, not both');
      // Everything decided locally is checked before the host is asked anything.
      const user = await givenUserPart(ctx, p);
      if (user && 'error' in user) return fail(user.error);
      let block: Buffer | undefined;
      try {
        block = p.managed && renderBlock(p.managed);
      } catch (err) {
        return fail((err as Error).message);
      }
      const current = await readCurrent(ctx, p.path);
      if ('error' in current) return fail(current.error);
      return { current, want: { user, setBlock: p.managed !== undefined, block } };
    },
    decide: (_p, f) => planEnvFile('bytes' in f.current ? f.current.bytes : undefined, f.want),
    changed: (d) => d.write !== undefined,
    apply: (ctx, p, d) => writeAtomic(ctx, p.path, d.write!.bytes, { mode: '0600', owner: p.owner, group: p.group, secret: true }),
    result(ctx, p, d, f) {
      if (!d.write) return { changed: false, msg: `${p.path}: up to date`, data: { path: p.path } };
      // Here, not in `read` as `file` does it: a user part that could never be written must fail a dry run first.
      const pending = 'missing' in f.current ? pendingParent(ctx, f.current.missing, p.path) : undefined;
      if (pending) return pending;
      const { before, after, changes } = d.write;
      const said = describeEnvChanges(changes);
      const result: ModuleResult = {
        changed: true,
        // Check mode is read for the wording only: the decision is the same in both modes.
        msg: ctx.check ? `${p.path}: would be written (${said})` : `${p.path}: ${said}`,
        data: { path: p.path, ...changes },
      };
      if (ctx.diff) result.diff = [envDiff(p.path, before, after, changes)];
      return result;
    },
  }),
});
