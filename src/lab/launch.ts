/**
 * The shell that runs inside a server's fresh namespaces (mount, PID, UTS), before chroot. Every
 * mount it makes belongs to the namespace alone, so they vanish when PID 1 dies: stopping a
 * server never leaves anything mounted on the machine.
 * Arguments: mode root lower upper work name init.
 */
export const LAUNCH_SCRIPT = `# Written by \`flight lab\`: runs in a server's new namespaces, then becomes its PID 1 through chroot.
set -eu
mode=$1 root=$2 lower=$3 upper=$4 work=$5 name=$6 init=$7
if [ "$mode" = overlay ]; then
  mount -t overlay flight-lab -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
else
  # A full copy: bind it onto itself so / is a mount point inside, as it is with an overlay (df and friends expect one).
  mount --bind "$root" "$root"
fi
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
# A private /dev with only the usual nodes, and its own devpts so ptys stay inside the server.
mount -t tmpfs -o nosuid,noexec,mode=0755,size=1m flight-dev "$root/dev"
cd "$root/dev"
mknod -m 666 null c 1 3
mknod -m 666 zero c 1 5
mknod -m 666 full c 1 7
mknod -m 666 random c 1 8
mknod -m 666 urandom c 1 9
mknod -m 666 tty c 5 0
mkdir -m 755 pts
mkdir -m 1777 shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts pts
ln -s pts/ptmx ptmx
mount -t tmpfs -o nosuid,nodev,mode=1777 shm shm
ln -s /proc/self/fd fd
ln -s /proc/self/fd/0 stdin
ln -s /proc/self/fd/1 stdout
ln -s /proc/self/fd/2 stderr
cd /
# /run starts empty at every boot, as on a real server.
mount -t tmpfs -o nosuid,nodev,mode=0755 flight-run "$root/run"
exec chroot "$root" /usr/bin/python3 "$init" "$name"
`;
