/**
 * shared_links: make each shared path of a release a symlink into the app's shared folder, the
 * Capistrano/Deployer way. A shared entry is created once: seeded from the release's own copy
 * when the repository has one (storage/ skeletons), else created empty (a folder, or a file for
 * names such as `.env`). Nothing in shared/ is ever removed or overwritten: a release only
 * replaces its own copy with the link.
 *
 * State is read and, when needed, changed in one round trip (the same script, told whether
 * check mode is on).
 */
import path from 'node:path';
import type { FromSchema } from 'json-schema-to-ts';
import { script } from '../src/command.js';
import { defineModule } from '../src/module-kit/contract.js';
import { ownerSchema, pathSchema } from '../src/module-kit/schemas.js';

const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['release', 'shared', 'paths'],
  properties: {
    release: pathSchema,
    shared: pathSchema,
    paths: { type: 'array', items: { type: 'string', minLength: 1 } },
    owner: ownerSchema,
  },
} as const;

/** The arguments, as the schema declares them. */
export type SharedLinksParams = FromSchema<typeof schema, { keepDefaultedPropertiesOptional: true }>;

/** A shared path names a file when its last part looks like one (`.env`, `database.sqlite`). */
export function looksLikeFile(p: string): boolean {
  const base = path.posix.basename(p);
  return base.startsWith('.') || /\.[A-Za-z0-9]+$/.test(base);
}

export function checkSharedPath(p: string): string | undefined {
  if (p.startsWith('/') || p.split('/').some((part) => part === '..' || part === '.' || part === '')) {
    return `shared path '${p}' must be relative to the release, without '.', '..' or empty parts`;
  }
  return undefined;
}

// $1 check (1/0), $2 release dir, $3 shared dir, $4 owner ('' = leave), then pairs of (path, kind).
// Prints one line per path that is (or would be) changed. Paths are "$release/p" and "$shared/p",
// so "${x%/*}" is their folder: no dirname process, and mkdir and rm only when there is work.
const LINK = `
set -e
check=$1 release=$2 shared=$3 owner=$4
shift 4
while [ $# -gt 0 ]; do
  p=$1 kind=$2
  shift 2
  link="$release/$p" target="$shared/$p"
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ] && [ -e "$target" ]; then continue; fi
  echo "$p"
  [ "$check" = 1 ] && continue
  if [ ! -e "$target" ] && [ ! -L "$target" ]; then
    [ -d "\${target%/*}" ] || mkdir -p "\${target%/*}"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
      cp -a "$link" "$target"
    elif [ "$kind" = file ]; then
      (umask 077; : > "$target")
    else
      mkdir -p "$target"
    fi
    [ -n "$owner" ] && chown -R "$owner:" "$target"
  fi
  [ -d "\${link%/*}" ] || mkdir -p "\${link%/*}"
  if [ -e "$link" ] || [ -L "$link" ]; then rm -rf "$link"; fi
  ln -s "$target" "$link"
  [ -n "$owner" ] && chown -h "$owner:" "$link"
done
true
`;

export const shared_links = defineModule<SharedLinksParams>({
  name: 'shared_links',
  schema,
  async run(ctx, p) {
    const bad = p.paths.map(checkSharedPath).find(Boolean);
    if (bad) return { changed: false, failed: true, msg: bad };
    if (p.paths.length === 0) return { changed: false, msg: 'no shared paths' };
    const args = p.paths.flatMap((sp) => [sp, looksLikeFile(sp) ? 'file' : 'dir']);
    const res = await ctx.exec(script(LINK, ctx.check ? '1' : '0', p.release, p.shared, p.owner ?? '', ...args));
    if (res.code !== 0) return { changed: false, failed: true, msg: `linking shared paths: ${res.stderr.trim()}` };
    const changed = res.stdout.split('\n').filter(Boolean);
    return {
      changed: changed.length > 0,
      msg: changed.length ? `linked ${changed.join(', ')}` : `${p.paths.length} shared paths linked`,
      data: { linked: changed },
    };
  },
});
