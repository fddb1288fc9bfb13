/**
 * unarchive: extract a local .tar.gz (on the control machine) into a directory on the host.
 *
 * The archive is streamed into `tar -xz` on the command's stdin: upload and extraction are one
 * round trip, and no temp copy of the archive ever lands on the host. Idempotence comes from
 * `creates` (a path the archive produces, e.g. the release's `vendor/autoload.php`): when it
 * exists the task does nothing, after one small read. Without `creates` every run extracts
 * again and reports a change.
 *
 * Extracted files belong to `owner`/`group` when given, else to the extracting user (root):
 * never to the uid/gid stored in the archive (`--no-same-owner`), which on a laptop-built
 * archive is some unrelated local account. `extra_opts` are passed to tar as argv words (e.g.
 * `--strip-components=1`), never through a shell; like a shell task's script they are the
 * playbook author's (tar itself can run programs, with --to-command).
 */
import { stat, readFile } from 'node:fs/promises';
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { normalizeMode } from '../src/module-kit/facts/file.js';
import { defineModule } from '../src/module-kit/contract.js';
import { modeSchema, ownerSchema, pathSchema } from '../src/module-kit/schemas.js';
import { outputTail } from './command.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['src', 'dest'],
  properties: {
    src: { type: 'string', minLength: 1, description: 'Local .tar.gz/.tgz, relative to the playbook.' },
    dest: { ...pathSchema, description: 'Directory on the host; created (with owner/group/mode) when missing.' },
    creates: { ...pathSchema, description: 'Skip when this path exists on the host.' },
    owner: ownerSchema,
    group: ownerSchema,
    mode: { ...modeSchema, description: 'Mode of `dest` itself.' },
    extra_opts: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** The arguments, as the schema declares them. */
export type UnarchiveParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** chown's owner[:group] spec; "" when neither is given. `user:` alone would mean its login group. */
export function ownerSpec(owner?: string, group?: string): string {
  if (owner && group) return `${owner}:${group}`;
  if (owner) return owner;
  if (group) return `:${group}`;
  return '';
}

/**
 * $1 dest, $2 chown spec, $3 mode of dest, then tar's extra options; the archive on stdin.
 * Which files the archive produced is found by their change time (ctime cannot be forged by
 * tar, unlike mtime): everything under dest changed after a marker made just before the
 * extraction. That covers --strip-components and other renaming options, which a member list
 * from the archive would not.
 */
export const EXTRACT_SCRIPT = `dest=$1 spec=$2 mode=$3
shift 3
mkdir -p -- "$dest" || exit 1
marker=$(mktemp) || exit 1
trap 'rm -f -- "$marker"' EXIT
# Timestamps advance in clock ticks: wait one so nothing older can share the marker's time.
sleep 0.02
tar -xzf - -C "$dest" --no-same-owner "$@" || exit $?
if [ -n "$spec" ]; then
  find "$dest" -cnewer "$marker" -exec chown -h -- "$spec" {} + || exit 1
  chown -- "$spec" "$dest" || exit 1
fi
[ -z "$mode" ] || chmod -- "$mode" "$dest"`;

export function isTarGz(file: string): boolean {
  return /\.(tar\.gz|tgz)$/i.test(file);
}

export const unarchive = defineModule<UnarchiveParams>({
  name: 'unarchive',
  schema,
  async run(ctx, p) {
    const local = ctx.localPath(p.src);
    if (!isTarGz(local)) return { changed: false, failed: true, msg: `src must be a .tar.gz or .tgz archive: ${p.src}` };
    let size: number;
    try {
      const s = await stat(local);
      if (!s.isFile()) return { changed: false, failed: true, msg: `${local} is not a file` };
      size = s.size;
    } catch (err) {
      return { changed: false, failed: true, msg: `cannot read ${local}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    const data = { dest: p.dest, src: local, size };

    // The read is only worth a round trip when it can avoid the upload.
    if (p.creates) {
      const [created, dest] = await ctx.stat([{ path: p.creates }, { path: p.dest }]);
      if (created!.type !== 'missing') return { changed: false, skipped: true, msg: `skipped: ${p.creates} exists`, data };
      if (dest!.type !== 'missing' && dest!.type !== 'directory') return { changed: false, failed: true, msg: `${p.dest} exists and is not a directory`, data };
    }
    if (ctx.check) return { changed: true, msg: `would extract ${p.src} (${size} bytes) into ${p.dest}`, data };

    const archive = await readFile(local);
    const res = await ctx.exec(
      script(EXTRACT_SCRIPT, p.dest, ownerSpec(p.owner, p.group), p.mode ? normalizeMode(p.mode) : '', ...(p.extra_opts ?? [])),
      { stdin: archive },
    );
    if (res.code !== 0) return { changed: true, failed: true, msg: `extracting ${p.src} into ${p.dest} failed (rc=${res.code}): ${outputTail(res)}`, data };
    return { changed: true, msg: `extracted ${p.src} (${size} bytes) into ${p.dest}`, data };
  },
});
