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
import { runOperation } from '../src/module-kit/operation.js';
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

/** The local archive's path and size. */
interface UnarchiveFacts {
  local: string;
  size: number;
}

export const unarchive = defineModule<UnarchiveParams>({
  name: 'unarchive',
  schema,
  run: runOperation<UnarchiveParams, UnarchiveFacts, { error?: string }>({
    async read(ctx, p) {
      const local = ctx.localPath(p.src);
      const fail = (msg: string, data?: Record<string, unknown>) => ({ result: { changed: false, failed: true, msg, data } });
      if (!isTarGz(local)) return fail(`src must be a .tar.gz or .tgz archive: ${p.src}`);
      let size: number;
      try {
        const s = await stat(local);
        if (!s.isFile()) return fail(`${local} is not a file`);
        size = s.size;
      } catch (err) {
        return fail(`cannot read ${local}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      // The read is only worth a round trip when it can avoid the upload.
      if (p.creates) {
        const data = { dest: p.dest, src: local, size };
        const [created, dest] = await ctx.stat([{ path: p.creates }, { path: p.dest }]);
        if (created!.type !== 'missing') return { result: { changed: false, skipped: true, msg: `skipped: ${p.creates} exists`, data } };
        if (dest!.type !== 'missing' && dest!.type !== 'directory') return fail(`${p.dest} exists and is not a directory`, data);
      }
      return { local, size };
    },
    // Without `creates` there is nothing to compare: every run extracts.
    decide: () => ({}),
    changed: () => true,
    async apply(ctx, p, _d, f) {
      const res = await ctx.exec(
        script(EXTRACT_SCRIPT, p.dest, ownerSpec(p.owner, p.group), p.mode ? normalizeMode(p.mode) : '', ...(p.extra_opts ?? [])),
        { stdin: await readFile(f.local) },
      );
      return res.code === 0 ? undefined : `extracting ${p.src} into ${p.dest} failed (rc=${res.code}): ${outputTail(res)}`;
    },
    // Some files may be out already when tar stops.
    failure: (p, err, _d, f) => ({ msg: err, changed: true, data: { dest: p.dest, src: f.local, size: f.size } }),
    result: (ctx, p, _d, f, changed) => ({
      changed,
      // Wording only: a check says what the run would do.
      msg: `${ctx.check ? 'would extract' : 'extracted'} ${p.src} (${f.size} bytes) into ${p.dest}`,
      data: { dest: p.dest, src: f.local, size: f.size },
    }),
  }),
});
