/** What the lab needs from the machine, checked up front so a missing piece is named, not hit halfway. */
import { invalid } from '../errors.js';
import { onPath, run } from './proc.js';

const APT_PACKAGE: Record<string, string> = {
  unshare: 'util-linux',
  mount: 'mount',
  chroot: 'coreutils',
  mknod: 'coreutils',
  tar: 'tar',
  zstd: 'zstd',
  'ssh-keygen': 'openssh-client',
  debootstrap: 'debootstrap',
};

export function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw invalid('flight lab needs root: it creates namespaces, mounts and chroots (run it with sudo)');
  }
}

/** Programs needed to start servers; debootstrap only when the base image must be built. */
export function requirePrograms(programs: string[]): void {
  const missing = programs.filter((p) => !onPath(p));
  if (missing.length) {
    const packages = [...new Set(missing.map((p) => APT_PACKAGE[p] ?? p))];
    throw invalid(`flight lab needs ${missing.join(', ')}, missing on this machine: apt-get install ${packages.join(' ')}`);
  }
}

let namespacesChecked = false;

/** Mount, PID and UTS namespaces must be available (they are not inside some containers). */
export async function requireNamespaces(): Promise<void> {
  if (namespacesChecked) return;
  const result = await run(['unshare', '--mount', '--pid', '--uts', '--fork', '--', 'true']);
  if (result.code !== 0) {
    throw invalid(`flight lab cannot create mount/PID/UTS namespaces here (unshare: ${result.stderr.trim() || `exit ${result.code}`})`);
  }
  namespacesChecked = true;
}

export const START_PROGRAMS = ['unshare', 'mount', 'chroot', 'mknod', 'tar', 'zstd', 'ssh-keygen'];
