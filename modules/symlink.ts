/**
 * symlink: make `path` a symlink to `target`. A change creates the new link under a temp name in
 * the same directory and renames it over the old one (`mv -T`), so a reader following `current`
 * always gets one release or the other, never a missing link.
 */
import path from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { defineModule } from '../src/module-kit/contract.js';
import { runOperation } from '../src/module-kit/operation.js';
import type { PathState, StatRequest } from '../src/module-kit/facts/file.js';
import { runSequence } from '../src/module-kit/batch.js';
import { attrCommands, describeAttrs, planAttrs, type AttrChange } from '../src/module-kit/attrs.js';
import { ownerSchema, pathSchema } from '../src/module-kit/schemas.js';
import { pendingParent, swapSymlink } from '../src/module-kit/write.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['path', 'target'],
  properties: {
    path: pathSchema,
    target: { type: 'string', minLength: 1, description: "What the link points to, stored as given (relative targets resolve from the link's folder)." },
    owner: ownerSchema,
    group: ownerSchema,
    force: { type: 'boolean', description: 'Replace a file or directory standing at `path`, and allow a target that does not exist yet.' },
  },
} as const;

/** The arguments, as the schema declares them. */
export type SymlinkParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

export interface SymlinkPlan {
  error?: string;
  /** The link must be (re)created. */
  swap: boolean;
  /** A real directory stands at `path` and goes first (force only). */
  replaceDirectory: boolean;
  /** Owner/group changes on an existing correct link. */
  attrs: AttrChange[];
}

/** Where `target` lands when followed from the link at `p`. */
export function resolveTarget(p: string, target: string): string {
  return path.posix.resolve(path.posix.dirname(p), target);
}

/** Decide (pure): `state` is the link path's, `targetState` the resolved target's. */
export function planSymlink(state: PathState, targetState: PathState, params: SymlinkParams): SymlinkPlan {
  const plan: SymlinkPlan = { swap: false, replaceDirectory: false, attrs: [] };
  if (path.posix.normalize(params.path) === '/') return { ...plan, error: 'refusing to manage /' };
  const attrs = planAttrs({ ...state, type: state.type === 'link' ? 'link' : 'missing' }, { owner: params.owner, group: params.group });
  if (state.type === 'link' && state.target === params.target) return { ...plan, attrs };
  if (!state.parentIsDir) return { ...plan, error: `parent directory ${path.posix.dirname(params.path)} does not exist` };
  if ((state.type === 'file' || state.type === 'directory' || state.type === 'other') && !params.force) {
    return { ...plan, error: `${params.path} exists and is a ${state.type}, not a symlink (force: true replaces it)` };
  }
  if (targetState.type === 'missing' && !params.force) {
    return { ...plan, error: `target ${params.target} does not exist (force: true links it anyway)` };
  }
  return { ...plan, swap: true, replaceDirectory: state.type === 'directory', attrs };
}

export const symlinkChanged = (plan: SymlinkPlan): boolean => !plan.error && (plan.swap || plan.attrs.length > 0);

function describe(state: PathState, params: SymlinkParams, plan: SymlinkPlan): string {
  const parts: string[] = [];
  if (plan.swap) {
    parts.push(state.type === 'link' ? `relinked ${state.target} -> ${params.target}`
      : state.type === 'missing' ? `linked to ${params.target}` : `replaced ${state.type} with link to ${params.target}`);
  }
  parts.push(...describeAttrs(plan.attrs));
  return parts.length ? parts.join(', ') : `links to ${params.target}`;
}

const linkText = (s: PathState): string => (s.type === 'link' ? `-> ${s.target}\n` : s.type === 'missing' ? 'absent\n' : `${s.type}\n`);

/** The link itself, and what it points at (relative targets resolved from the link's folder). */
function symlinkReads(params: SymlinkParams): StatRequest[] {
  return [{ path: params.path }, { path: resolveTarget(params.path, params.target) }];
}

export const symlink = defineModule<SymlinkParams>({
  name: 'symlink',
  schema,
  reads: (params) => symlinkReads(params),
  run: runOperation<SymlinkParams, { state: PathState; target: PathState }, SymlinkPlan>({
    async read(ctx, params) {
      const [state, target] = await ctx.stat(symlinkReads(params));
      const pending = pendingParent(ctx, state!, params.path);
      return pending ? { result: pending } : { state: state!, target: target! };
    },
    decide: (params, f) => planSymlink(f.state, f.target, params),
    changed: symlinkChanged,
    apply: (ctx, params, plan) =>
      plan.swap
        ? swapSymlink(ctx, params.path, params.target, { owner: params.owner, group: params.group, replaceDirectory: plan.replaceDirectory })
        : runSequence(ctx, attrCommands(params.path, plan.attrs, { link: true })),
    failure: (params, err) => `${params.path}: ${err}`,
    result: (ctx, params, plan, f, changed) => ({
      changed,
      msg: `${params.path}: ${describe(f.state, params, plan)}`,
      diff: ctx.diff && plan.swap ? [{ path: params.path, before: linkText(f.state), after: `-> ${params.target}\n` }] : undefined,
      data: { path: params.path, target: params.target },
    }),
  }),
});
