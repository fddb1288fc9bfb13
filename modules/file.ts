/**
 * file: make a path a directory, an existing file, an (empty if new) file, or absent, with the
 * given mode/owner/group. One read; at most one more round trip to apply everything.
 */
import path from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule, type FileDiff } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import type { PathState, PathType, StatRequest } from '../src/module-kit/facts/file.js';
import { runSequence } from '../src/module-kit/batch.js';
import { attrCommands, describeAttrs, planAttrs, type AttrChange } from '../src/module-kit/attrs.js';
import { modeSchema, ownerSchema, pathSchema } from '../src/module-kit/schemas.js';
import { pendingParent } from '../src/module-kit/write.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['path'],
  properties: {
    path: pathSchema,
    state: { enum: ['directory', 'file', 'absent', 'touch'], default: 'file', description: '`file` (default): must already exist; `touch`: create empty if missing (never bumps times)' },
    mode: modeSchema,
    owner: ownerSchema,
    group: ownerSchema,
    recurse: { type: 'boolean', description: 'directory only: apply owner/group to everything below too' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type FileParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export interface FilePlanResult {
  error?: string;
  create?: 'directory' | 'file';
  remove?: PathType;
  attrs: AttrChange[];
  recurse: boolean;
}

/** Decide the changes for `params` given the current state (pure). */
export function planFileModule(state: PathState, params: FileParams): FilePlanResult {
  const want = params.state ?? 'file';
  const none: FilePlanResult = { attrs: [], recurse: false };
  if (path.posix.normalize(params.path) === '/') return { ...none, error: 'refusing to manage /' };
  if (params.recurse && want !== 'directory') return { ...none, error: 'recurse only applies to state: directory' };

  if (want === 'absent') return state.type === 'missing' ? none : { ...none, remove: state.type };

  const attrsWanted = { mode: params.mode, owner: params.owner, group: params.group };
  if (want === 'directory') {
    if (state.type !== 'missing' && state.type !== 'directory') {
      return { ...none, error: `${params.path} exists and is a ${state.type}, not a directory` };
    }
    const attrs = planAttrs(state, attrsWanted);
    const recurse = !!params.recurse && state.type === 'directory' && state.recurseMatches === false;
    if (recurse) {
      // Something below differs even if the top does not: chown the whole tree.
      for (const attr of ['owner', 'group'] as const) {
        const to = params[attr];
        if (to !== undefined && !attrs.some((a) => a.attr === attr)) attrs.push({ attr, from: state[attr], to });
      }
    }
    return { attrs, recurse: !!params.recurse && state.type === 'directory', create: state.type === 'missing' ? 'directory' : undefined };
  }

  // file / touch
  if (state.type === 'missing') {
    if (want === 'file') return { ...none, error: `${params.path} does not exist (state: touch creates it)` };
    if (!state.parentIsDir) return { ...none, error: `parent directory ${path.posix.dirname(params.path)} does not exist` };
    return { attrs: planAttrs(state, attrsWanted), recurse: false, create: 'file' };
  }
  if (state.type !== 'file') return { ...none, error: `${params.path} exists and is a ${state.type}, not a file` };
  return { attrs: planAttrs(state, attrsWanted), recurse: false };
}

export const fileChanged = (plan: FilePlanResult): boolean =>
  !plan.error && (plan.create !== undefined || plan.remove !== undefined || plan.attrs.length > 0);

/** The argv commands carrying out a plan (pure). */
export function fileCommands(p: string, plan: FilePlanResult): string[][] {
  if (plan.remove) return [['rm', '-rf', '--', p]];
  const cmds: string[][] = [];
  if (plan.create === 'directory') cmds.push(['mkdir', '-p', '--', p]);
  if (plan.create === 'file') cmds.push(['touch', '--', p]);
  // chmod never recurses: a directory mode on every file would make them all executable.
  const modes = plan.attrs.filter((a) => a.attr === 'mode');
  const ids = plan.attrs.filter((a) => a.attr !== 'mode');
  cmds.push(...attrCommands(p, ids, { recurse: plan.recurse }), ...attrCommands(p, modes));
  return cmds;
}

function describe(plan: FilePlanResult): string {
  if (plan.remove) return `removed ${plan.remove}`;
  const parts: string[] = [];
  if (plan.create) parts.push(`created ${plan.create}`);
  parts.push(...describeAttrs(plan.attrs));
  if (plan.recurse && plan.attrs.some((a) => a.attr !== 'mode')) parts.push('(owner/group recursively)');
  return parts.length ? parts.join(', ') : 'up to date';
}

/** A short text form of a path's state for --diff (pure). */
export function stateText(s: { type: PathType; mode?: string; owner?: string; group?: string }): string {
  if (s.type === 'missing') return 'absent\n';
  const attrs = (['mode', 'owner', 'group'] as const).filter((k) => s[k] !== undefined).map((k) => ` ${k}=${s[k]}`);
  return `${s.type}${attrs.join('')}\n`;
}

function planDiff(state: PathState, params: FileParams, plan: FilePlanResult): FileDiff {
  const after = { type: state.type, mode: state.mode, owner: state.owner, group: state.group };
  if (plan.remove) after.type = 'missing';
  if (plan.create) {
    after.type = plan.create;
    after.mode = undefined;
    after.owner = undefined;
    after.group = undefined;
  }
  for (const a of plan.attrs) after[a.attr] = a.to;
  return { path: params.path, before: stateText(state), after: stateText(after) };
}

/** The one read a file task makes. */
function fileRead(params: FileParams): StatRequest {
  const recurseAsk = params.recurse && (params.owner !== undefined || params.group !== undefined);
  return { path: params.path, recurseOwner: recurseAsk ? params.owner : undefined, recurseGroup: recurseAsk ? params.group : undefined };
}

export const file = defineModule<FileParams>({
  name: 'file',
  schema,
  reads: (params) => [fileRead(params)],
  run: runOperation<FileParams, PathState, FilePlanResult>({
    async read(ctx, params) {
      const [state] = await ctx.stat([fileRead(params)]);
      const pending = params.state !== 'absent' ? pendingParent(ctx, state!, params.path) : undefined;
      return pending ? { result: pending } : state!;
    },
    decide: (params, state) => planFileModule(state, params),
    changed: fileChanged,
    apply: (ctx, params, plan) => runSequence(ctx, fileCommands(params.path, plan)),
    failure: (params, err) => `${params.path}: ${err}`,
    result: (ctx, params, plan, state, changed) => ({
      changed,
      msg: `${params.path}: ${describe(plan)}`,
      diff: ctx.diff && changed ? [planDiff(state, params, plan)] : undefined,
      data: { path: params.path, state: plan.remove ? 'absent' : plan.create ?? state.type },
    }),
  }),
});
