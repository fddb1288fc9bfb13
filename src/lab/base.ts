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
    if (fs.existsSync(base.tarball)) {
      log(`unpacking the lab base image ${base.hash}`);
      fs.mkdirSync(base.root);
      await runOk(['tar', ...TAR_FLAGS, '-I', 'zstd', '-C', base.root, '-xpf', base.tarball]);
    } else {
      await build(base, log);
    }
    fs.writeFileSync(readyMark(base), `${new Date().toISOString()}\n`);
  });
  return { base, seconds: (Date.now() - t0) / 1000 };
}

async function build(base: Base, log: (line: string) => void): Promise<void> {
  if (!onPath('debootstrap')) {
    throw invalid('the lab base image is not cached and debootstrap is missing: apt-get install debootstrap');
  }
  const r = recipe();
  log(`building the lab base image ${base.hash}: debootstrap ${r.suite} from ${r.mirror} (about a minute, once)`);
  // In a private mount namespace, whatever debootstrap mounts inside the target goes away with it.
  await runOk([
    'unshare', '--mount', '--',
    'debootstrap', '--variant=minbase', `--include=${r.packages.join(',')}`, '--components=main',
    r.suite, base.root, r.mirror,
  ]);
  fs.rmSync(path.join(base.root, 'etc/apt/sources.list'), { force: true });
  fs.mkdirSync(path.join(base.root, 'etc/apt/sources.list.d'), { recursive: true });
  fs.writeFileSync(path.join(base.root, 'etc/apt/sources.list.d/debian.sources'), r.sources);
  for (const [file, text] of Object.entries(r.files)) {
    fs.writeFileSync(path.join(base.root, file), text, { mode: 0o755 });
    fs.chmodSync(path.join(base.root, file), file.startsWith('/etc/') ? 0o644 : 0o755);
  }
  fs.copyFileSync('/etc/resolv.conf', path.join(base.root, 'etc/resolv.conf'));
  log('updating the base image package lists');
  await runOk([
    'unshare', '--mount', '--pid', '--fork', '--',
    'sh', '-c', 'mount -t proc proc "$1/proc" && exec chroot "$1" /bin/sh -c "$2"', 'sh', base.root, r.inRoot,
  ]);
  log('caching the base image');
  const tmp = `${base.tarball}.tmp-${process.pid}`;
  await runOk(['tar', ...TAR_FLAGS, '-I', 'zstd -T0 -3', '-C', base.root, '-cf', tmp, '.']);
  fs.renameSync(tmp, base.tarball);
}
