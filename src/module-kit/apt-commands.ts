/**
 * The commands by which the apt module changes a host, as fixed scripts whose inputs travel as
 * positional arguments. apt-get waits for the dpkg/lists locks rather than failing on a
 * concurrent unattended-upgrades run.
 */
import { script, type Command } from '../command.js';
import { APT_STAMP } from './facts/packages.js';

const LOCK_WAIT = 600; // seconds: unattended-upgrades can hold the dpkg lock for minutes

/**
 * The prepare step: download a key given by URL (to a temp name, renamed into place only when
 * complete), refresh the lists when asked, then ask apt about the packages still to install.
 * stdout: `step=key|update` on a failure there, else `step=policy` and apt-cache's answer.
 */
const PREPARE_SCRIPT = `kurl=$1 kp=$2 upd=$3
shift 3
if [ -n "$kurl" ]; then
  command -v curl >/dev/null || { echo "curl is needed to download $kurl" >&2; echo step=key; exit 1; }
  tmp="$kp.flight-tmp.$$"
  curl -fsSL --max-time 60 -o "$tmp" "$kurl" && chmod 644 "$tmp" && mv -f "$tmp" "$kp" || { rm -f "$tmp"; echo step=key; exit 1; }
fi
if [ "$upd" = 1 ]; then
  apt-get update -q -o DPkg::Lock::Timeout=${LOCK_WAIT} </dev/null >&2 || { echo step=update; exit 1; }
  mkdir -p /var/lib/apt/periodic && touch ${APT_STAMP}
fi
echo step=policy
[ $# -eq 0 ] || apt-cache policy "$@"`;

export interface Prepare {
  /** Download the key from this URL to `keyPath` ('' or undefined: no download). */
  keyUrl?: string;
  keyPath: string;
  update: boolean;
  /** The packages to ask apt about. */
  names: readonly string[];
}

export function prepareCommand(o: Prepare): Command {
  return script(PREPARE_SCRIPT, o.keyUrl ?? '', o.keyPath, o.update ? '1' : '0', ...o.names);
}

/**
 * The install. If an earlier run was interrupted, dpkg refuses everything until
 * `dpkg --configure -a`; that is done once, then the install is retried.
 */
const INSTALL_SCRIPT = `err=$(mktemp)
run() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=${LOCK_WAIT} \\
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null 2>"$err"
}
if run "$@"; then rm -f "$err"; exit 0; fi
if grep -q 'dpkg --configure -a' "$err"; then
  DEBIAN_FRONTEND=noninteractive dpkg --configure -a --force-confdef --force-confold </dev/null >&2 && run "$@" && { rm -f "$err"; exit 0; }
fi
rc=$?
cat "$err" >&2
rm -f "$err"
exit $rc`;

export function installArgs(names: string[], installRecommends: boolean | undefined): string[] {
  return [...(installRecommends === false ? ['--no-install-recommends'] : []), '--', ...names];
}

export function installCommand(names: string[], installRecommends: boolean | undefined): Command {
  return script(INSTALL_SCRIPT, ...installArgs(names, installRecommends));
}
