/**
 * The base image every lab server is layered on: a minimal Debian built once by debootstrap,
 * cached as a zstd tarball keyed on a hash of the recipe (a changed recipe builds a new base;
 * an unchanged one unpacks in seconds), and kept unpacked as the shared read-only lower layer.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { invalid } from '../errors.js';
import { INIT_PATH, INIT_SCRIPT } from './init-script.js';
import { withLock } from './lock.js';
import { onPath, runOk } from './proc.js';
import { bootstrapMirror, LAB_SUITE, labSources, renderDeb822 } from './sources.js';

/** Bump when a build step changes in a way the text below does not show. */
const RECIPE_VERSION = 1;
const PACKAGES = ['openssh-server', 'python3', 'sudo', 'ca-certificates', 'curl', 'procps'];

/**
 * Without an init system daemons must not start on install: they would bind the machine's
 * shared network (a stock nginx takes 0.0.0.0:80 for every server and the host). Flight starts
 * services itself.
 */
const POLICY_RC_D = '#!/bin/sh\n# Flight lab: packages never start daemons on install; Flight starts them.\nexit 101\n';
/** sshd has no syslog here: log to a file, also when restarted with `service ssh restart`. */
const DEFAULT_SSH = 'SSHD_OPTS="-E /var/log/sshd.log"\n';
/** Run inside the fresh root: package lists so `apt-get install` works at once, then drop the .debs. */
const IN_ROOT = 'set -e; apt-get -q -o Acquire::Retries=3 update; apt-get clean; rm -f /etc/ssh/ssh_host_*';

export interface Base {
  hash: string;
  /** The unpacked root: the overlay lower dir (or the source of a copy). */
  root: string;
  tarball: string;
}

interface Recipe {
  version: number;
  suite: string;
  mirror: string;
  packages: string[];
  sources: string;
  files: Record<string, string>;
  inRoot: string;
}

function recipe(): Recipe {
  const sources = labSources();
  return {
    version: RECIPE_VERSION,
    suite: LAB_SUITE,
    mirror: bootstrapMirror(sources),
    packages: PACKAGES,
    sources: renderDeb822(sources),
    files: { [INIT_PATH]: INIT_SCRIPT, '/usr/sbin/policy-rc.d': POLICY_RC_D, '/etc/default/ssh': DEFAULT_SSH },
    inRoot: IN_ROOT,
  };
}

export function baseFor(cacheDir: string, hash: string): Base {
  return { hash, root: path.join(cacheDir, hash, 'rootfs'), tarball: path.join(cacheDir, `${hash}.tar.zst`) };
}

const readyMark = (base: Base) => path.join(path.dirname(base.root), 'ready');

/** Whether a base (e.g. the one an existing server was built on) is still unpacked. */
export function baseReady(base: Base): boolean {
  return fs.existsSync(readyMark(base));
}

export function currentBase(cacheDir: string): Base {
  const hash = crypto.createHash('sha256').update(JSON.stringify(recipe())).digest('hex').slice(0, 16);
  return baseFor(cacheDir, hash);
}

const TAR_FLAGS = ['--numeric-owner', '--xattrs', '--xattrs-include=*'];

/**
 * Make sure the current base is unpacked: from the cached tarball when there is one, otherwise
 * built with debootstrap. Returns the base and how many seconds it cost (0 when already there).
 */
export async function ensureBase(cacheDir: string, log: (line: string) => void): Promise<{ base: Base; seconds: number }> {
  const base = currentBase(cacheDir);
  if (baseReady(base)) return { base, seconds: 0 };
  const t0 = Date.now();
  await withLock(path.join(cacheDir, `${base.hash}.lock`), 'the lab base image', async () => {
    if (baseReady(base)) return; // another process finished it while we waited
    const dir = path.dirname(base.root);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(base.tarball)) await build(base, log);
    log(`unpacking the lab base image ${base.hash}`);
    fs.mkdirSync(base.root);
    await runOk(['tar', ...TAR_FLAGS, '-I', 'zstd', '-C', base.root, '-xpf', base.tarball]);
    fs.writeFileSync(readyMark(base), `${new Date().toISOString()}\n`);
  });
  return { base, seconds: (Date.now() - t0) / 1000 };
}

/**
 * Runs in a private mount namespace: the image is built on a tmpfs (dpkg fsyncs every file it
 * unpacks, which costs minutes on a busy disk and buys nothing for an image that is about to be
 * tarred), then cached as a tarball. Everything mounted here vanishes with the namespace.
 * Arguments: build-dir tarball staging suite mirror packages in-root-script.
 */
const BUILD_SCRIPT = `set -eu
build=$1 out=$2 staging=$3 suite=$4 mirror=$5 packages=$6 inroot=$7
mount -t tmpfs -o mode=0755,size=4g flight-lab-build "$build"
debootstrap --variant=minbase --include="$packages" --components=main "$suite" "$build" "$mirror"
echo "flight-lab: debootstrap done after \${SECONDS}s"
rm -f "$build/etc/apt/sources.list" "$build"/etc/ssh/ssh_host_* "$build/etc/resolv.conf"
while read -r mode dest; do install -D -m "$mode" "$staging$dest" "$build$dest"; done < "$staging/MANIFEST"
cat /etc/resolv.conf > "$build/etc/resolv.conf"
mount -t proc proc "$build/proc"
chroot "$build" /bin/sh -c "$inroot"
umount "$build/proc"
echo "flight-lab: package lists done after \${SECONDS}s"
tar --numeric-owner --xattrs '--xattrs-include=*' -C "$build" -I 'zstd -T0 -3' -cf "$out" .
echo "flight-lab: tarball done after \${SECONDS}s"
`;

async function build(base: Base, log: (line: string) => void): Promise<void> {
  if (!onPath('debootstrap')) {
    throw invalid('the lab base image is not cached and debootstrap is missing: apt-get install debootstrap');
  }
  const r = recipe();
  log(`building the lab base image ${base.hash}: debootstrap ${r.suite} from ${r.mirror} (a minute or two, once)`);
  const work = path.dirname(base.root);
  const staging = path.join(work, 'staging');
  const files = { ...r.files, '/etc/apt/sources.list.d/debian.sources': r.sources };
  const manifest: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
    fs.writeFileSync(path.join(staging, file), text);
    manifest.push(`${file.startsWith('/etc/') ? '0644' : '0755'} ${file}`);
  }
  fs.writeFileSync(path.join(staging, 'MANIFEST'), `${manifest.join('\n')}\n`);
  const buildDir = path.join(work, 'build');
  fs.mkdirSync(buildDir);
  const tmp = `${base.tarball}.tmp-${process.pid}`;
  try {
    const result = await runOk([
      'unshare', '--mount', '--pid', '--fork', '--propagation', 'private', '--',
      'bash', '-c', BUILD_SCRIPT, 'flight-lab-build', buildDir, tmp, staging, r.suite, r.mirror, r.packages.join(','), r.inRoot,
    ]);
    for (const line of result.stdout.split('\n')) if (line.startsWith('flight-lab: ')) log(line.slice(12));
    fs.renameSync(tmp, base.tarball);
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(staging, { recursive: true, force: true });
    fs.rmSync(buildDir, { recursive: true, force: true });
  }
}
