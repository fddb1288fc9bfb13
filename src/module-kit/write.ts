/**
 * The one home for writing files on a host. Every module that produces a file (template, copy,
 * cron, supervisor) goes through `ensureFile`, `env_file` (which reads the old bytes with a
 * `get`, not a stat) through `writeAtomic`, and `file`/`symlink` use the attribute helpers
 * (attrs.ts) and the symlink swap here, so atomicity, validation, diffs and secret masking are
 * done once.
 *
 * A write is atomic: the content goes to a temp file in the destination's own directory (same
 * filesystem, so the final rename is atomic), gets its mode and owner, is optionally checked by a
 * validator, and only then is renamed over the target. A reader sees the old file or the new
 * one, never half of it, and a failed validation leaves the old file untouched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { script } from '../command.js';
import type { FileDiff, ModuleContext, ModuleResult } from './contract.js';
import { normalizeMode, type PathState, type StatRequest } from './facts/file.js';
import { runSequence } from './batch.js';
import { attrCommands, describeAttrs, planAttrs, type AttrChange, type Attrs } from './attrs.js';
import { validateArgv } from './validate.js';

export const HIDDEN = '(contents hidden)';

/** Env files hold credentials whatever the task says. */
export function isSecretPath(p: string): boolean {
  return p.endsWith('.env') || /\/\.env(\.[^/]*)?$/.test(p);
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A sibling temp name: same directory so the rename is atomic, hidden and unique. */
export function tempPathFor(p: string): string {
  return path.posix.join(path.posix.dirname(p), `.${path.posix.basename(p)}.flight-${randomBytes(6).toString('hex')}`);
}

// ---------------------------------------------------------------------------------------------
// Whole files

export interface FileSpec extends Attrs {
  /** Absolute path on the host. */
  path: string;
  content: string | Buffer;
  /** A command checking the new file before it replaces the old one; %s is the file. */
  validate?: string | readonly string[];
  /** Never show the content in a diff or message (also implied by a .env path). */
  secret?: boolean;
}

export interface FilePlan {
  /** A reason the file cannot be written at all (the task fails with it). */
  error?: string;
  /** The destination does not exist yet. */
  create: boolean;
  /** The content must be written. */
  content: boolean;
  attrs: AttrChange[];
  /** The sha256 of the wanted content. */
  sha256: string;
}

export const isSecret = (spec: { path: string; secret?: boolean }): boolean => spec.secret === true || isSecretPath(spec.path);

/**
 * New secret files without an explicit mode are created 0600 rather than with the umask's
 * world-readable 0644; an existing file keeps whatever mode it has.
 */
function effectiveAttrs(spec: FileSpec, state: PathState): Attrs {
  if (spec.mode === undefined && isSecret(spec) && state.type !== 'file') return { ...spec, mode: '0600' };
  return spec;
}

/**
 * The read of a file-producing task (template, copy, cron) before its content is known, for the
 * runner to read ahead (Module.reads). With --diff the read also carries the new content's
 * checksum (to send back the old content when it differs), known only once rendered: none then.
 */
export function fileReads(p: string, diff: boolean): StatRequest[] | undefined {
  return diff ? undefined : [{ path: p, checksum: true }];
}

/** The read for a file spec: checksum, and the old content only if it differs and is showable. */
export function fileRequest(spec: FileSpec, diff: boolean): StatRequest {
  const want = sha256(spec.content);
  return { path: spec.path, checksum: true, contentUnless: diff && !isSecret(spec) ? want : undefined };
}

/** Decide what writing `spec` over `state` takes (pure). */
export function planFile(state: PathState, spec: FileSpec): FilePlan {
  const want = sha256(spec.content);
  const plan: FilePlan = { create: state.type === 'missing', content: false, attrs: [], sha256: want };
  if (state.type === 'directory') return { ...plan, error: `${spec.path} is a directory` };
  if (state.type === 'other') return { ...plan, error: `${spec.path} exists and is not a regular file` };
  if (!state.parentIsDir) return { ...plan, error: `parent directory ${path.posix.dirname(spec.path)} does not exist` };
  // A symlink at the destination is replaced by a regular file (Ansible's default, follow: no).
  plan.content = state.type !== 'file' || state.sha256 !== want;
  plan.attrs = planAttrs(state.type === 'file' ? state : { ...state, type: 'missing' }, effectiveAttrs(spec, state));
  return plan;
}

export const planChanged = (plan: FilePlan): boolean => !plan.error && (plan.content || plan.attrs.length > 0);

export function describeFilePlan(plan: FilePlan): string {
  if (plan.error) return plan.error;
  const parts: string[] = [];
  if (plan.create) parts.push('created');
  else if (plan.content) parts.push('content changed');
  parts.push(...describeAttrs(plan.attrs));
  return parts.length ? parts.join(', ') : 'up to date';
}

function showable(data: Buffer | string): string {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  if (buf.includes(0)) return `(binary content, ${buf.length} bytes)`;
  return buf.toString('utf8');
}

/** The before/after of a content change, masked for secrets (pure). */
export function fileDiff(state: PathState, spec: FileSpec, plan: FilePlan): FileDiff | undefined {
  if (!plan.content || plan.error) return undefined;
  if (isSecret(spec)) {
    return { path: spec.path, before: state.type === 'missing' ? '' : HIDDEN, after: HIDDEN };
  }
  let before = '';
  if (state.type === 'link') before = `(symlink to ${state.target})\n`;
  else if (state.content) before = showable(state.content);
  else if (state.contentTooLarge) before = `(file too large to show, ${state.size} bytes)\n`;
  return { path: spec.path, before, after: showable(spec.content) };
}

/**
 * Fixed script for the atomic write; the content arrives on stdin, values as arguments.
 * Exit 3: missing parent directory; exit 4: the validator rejected the file (its output on
 * stderr). The EXIT trap removes the temp file on any failure.
 *
 * The temp file is created under umask 077 so secret content is never readable by others, not
 * even for the moment before its mode is set. Then it takes the replaced file's owner and mode
 * (best effort: a non-root user may not be allowed to give it away), or the usual umask mode for
 * a new file, and finally what the task asked. chown goes before chmod since it may clear
 * setuid/setgid bits.
 */
const WRITE_SCRIPT = `set -e
dest=$1 dir=$2 tmp=$3 mode=$4 owner=$5 group=$6; shift 6
[ -d "$dir" ] || { echo "parent directory $dir does not exist" >&2; exit 3; }
old=0; if [ -f "$dest" ] && [ ! -L "$dest" ]; then old=1; fi
[ -n "$mode" ] || [ "$old" = 1 ] || um=$(umask)
umask 077
trap 'rm -f -- "$tmp"' EXIT
set -C; cat > "$tmp"; set +C
if [ "$old" = 1 ]; then
  [ -n "$owner" ] && [ -n "$group" ] || chown --reference="$dest" -- "$tmp" 2>/dev/null || true
  [ -n "$mode" ] || chmod --reference="$dest" -- "$tmp"
elif [ -z "$mode" ]; then
  chmod -- "$(printf '%o' $((0666 & ~0$um)))" "$tmp"
fi
[ -z "$owner$group" ] || chown -- "$owner\${group:+:$group}" "$tmp"
[ -z "$mode" ] || chmod -- "$mode" "$tmp"
if [ $# -gt 0 ]; then
  out=$("$@" 2>&1) || { rc=$?; printf '%s\\n' "\${out:-(no output)}" "exit code $rc" >&2; exit 4; }
fi
mv -f -- "$tmp" "$dest"
trap - EXIT
`;

export interface WriteOptions extends Attrs {
  validate?: string | readonly string[];
  /** Keep the validator's output out of the message: it may quote the secret content. */
  secret?: boolean;
}

/** Write `content` to `dest` atomically in one round trip. Returns an error message, or undefined. */
export async function writeAtomic(ctx: ModuleContext, dest: string, content: string | Buffer, opts: WriteOptions = {}): Promise<string | undefined> {
  const tmp = tempPathFor(dest);
  let check: string[] = [];
  if (opts.validate !== undefined) {
    try {
      check = validateArgv(opts.validate, tmp);
    } catch (err) {
      return (err as Error).message;
    }
  }
  const cmd = script(WRITE_SCRIPT, dest, path.posix.dirname(dest), tmp, opts.mode ? normalizeMode(opts.mode) : '', opts.owner ?? '', opts.group ?? '', ...check);
  const res = await ctx.exec(cmd, { stdin: typeof content === 'string' ? Buffer.from(content) : content });
  if (res.code === 0) return undefined;
  const out = (res.stderr.trim() || res.stdout.trim()).replace(/\s*\n\s*/g, '; ');
  if (res.code === 4) {
    const what = typeof opts.validate === 'string' ? ` (${opts.validate})` : '';
    return `validation failed${what}, ${dest} left unchanged: ${opts.secret ? '(output hidden: secret file)' : out}`;
  }
  return out || `writing ${dest} failed with exit code ${res.code}`;
}

/** Carry out a plan made by planFile. Returns an error message, or undefined. */
export async function applyFilePlan(ctx: ModuleContext, spec: FileSpec, plan: FilePlan, state: PathState): Promise<string | undefined> {
  if (plan.content) {
    const attrs = effectiveAttrs(spec, state);
    return writeAtomic(ctx, spec.path, spec.content, { ...attrs, validate: spec.validate, secret: isSecret(spec) });
  }
  if (plan.attrs.length) return runSequence(ctx, attrCommands(spec.path, plan.attrs));
  return undefined;
}

/**
 * Assemble a module result from a decided file plan: check mode and diff handled here so every
 * file-producing module behaves the same. `error` is what applying returned, if it was applied.
 */
export function fileResult(ctx: ModuleContext, spec: FileSpec, state: PathState, plan: FilePlan, error?: string): ModuleResult {
  if (plan.error) return { changed: false, failed: true, msg: plan.error };
  if (error) return { changed: false, failed: true, msg: error };
  const changed = planChanged(plan);
  const result: ModuleResult = { changed, msg: `${spec.path}: ${describeFilePlan(plan)}`, data: { path: spec.path, sha256: plan.sha256 } };
  if (ctx.diff) {
    const d = fileDiff(state, spec, plan);
    if (d) result.diff = [d];
  }
  return result;
}

/**
 * In check mode nothing earlier in the run really happened, so a folder that an earlier task
 * (a package install, the app's folders) would have created is missing. That is a change the
 * real run would make, not a failure: say so instead of failing the dry run.
 */
export function pendingParent(ctx: ModuleContext, state: PathState, p: string): ModuleResult | undefined {
  if (!ctx.check || state.parentIsDir) return undefined;
  return { changed: true, msg: `${p}: would be created (its folder ${path.posix.dirname(p)} does not exist yet)` };
}

/** Make the file at spec.path hold spec.content with spec's attributes: read, decide, apply. */
export async function ensureFile(ctx: ModuleContext, spec: FileSpec): Promise<ModuleResult> {
  const [state] = await ctx.stat([fileRequest(spec, ctx.diff)]);
  const pending = pendingParent(ctx, state!, spec.path);
  if (pending) return pending;
  const plan = planFile(state!, spec);
  let error: string | undefined;
  if (planChanged(plan) && !ctx.check) error = await applyFilePlan(ctx, spec, plan, state!);
  return fileResult(ctx, spec, state!, plan, error);
}

// ---------------------------------------------------------------------------------------------
// Symlinks

/**
 * Exit 3: the parent directory is missing. With `replace`, a real directory in the way is removed
 * first (that part cannot be atomic); otherwise `mv -T` renames the new link over the old one in
 * a single rename(2), so `current` always points at one release or the other.
 */
const SYMLINK_SCRIPT = `set -e
p=$1 dir=$2 target=$3 tmp=$4 owner=$5 group=$6 replace=$7
[ -d "$dir" ] || { echo "parent directory $dir does not exist" >&2; exit 3; }
trap 'rm -f -- "$tmp"' EXIT
ln -s -- "$target" "$tmp"
[ -z "$owner$group" ] || chown -h -- "$owner\${group:+:$group}" "$tmp"
if [ "$replace" = 1 ] && [ -d "$p" ] && [ ! -L "$p" ]; then rm -rf -- "$p"; fi
mv -T -f -- "$tmp" "$p"
trap - EXIT
`;

export interface SymlinkOptions {
  owner?: string;
  group?: string;
  /** Remove a real directory standing at the link's path. */
  replaceDirectory?: boolean;
}

/** Point `p` at `target` atomically in one round trip. Returns an error message, or undefined. */
export async function swapSymlink(ctx: ModuleContext, p: string, target: string, opts: SymlinkOptions = {}): Promise<string | undefined> {
  const res = await ctx.exec(
    script(SYMLINK_SCRIPT, p, path.posix.dirname(p), target, tempPathFor(p), opts.owner ?? '', opts.group ?? '', opts.replaceDirectory ? '1' : '0'),
  );
  if (res.code === 0) return undefined;
  return (res.stderr.trim() || res.stdout.trim()).replace(/\s*\n\s*/g, '; ') || `linking ${p} failed with exit code ${res.code}`;
}

// ---------------------------------------------------------------------------------------------
// Argument schema parts shared by the file-producing modules

/**
 * A file module's content given as `content` (inline) or `src` (a local file, relative to the
 * playbook): the bytes, undefined when neither is given, or why the local file cannot be read.
 */
export async function givenContent(ctx: ModuleContext, p: { src?: string; content?: string }): Promise<string | Buffer | undefined | { error: string }> {
  if (p.content !== undefined) return p.content;
  if (p.src === undefined) return undefined;
  const local = ctx.localPath(p.src);
  try {
    return await readFile(local);
  } catch (err) {
    return { error: `cannot read ${local}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}
