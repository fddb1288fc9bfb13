/**
 * PID 1 of every lab server, baked into the base image at /sbin/flight-lab-init. It must reap
 * orphans (daemons double-fork and land on PID 1) and must not be sshd, so `service ssh restart`
 * on a server does not end it. Python 3 is in the image anyway, so no extra package is needed.
 * SIGTERM stops the server gracefully: everything else gets SIGTERM, then PID 1 exits and the
 * kernel kills what is left in the namespace.
 */
export const INIT_PATH = '/sbin/flight-lab-init';

export const INIT_SCRIPT = `#!/usr/bin/python3
# PID 1 of a Flight lab server: names the host, starts sshd, reaps orphans until told to stop.
import os, signal, socket, sys, time

def reap(*_):
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

def stop(*_):
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        os.kill(-1, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        time.sleep(0.02)
    os._exit(0)

if len(sys.argv) > 1:
    socket.sethostname(sys.argv[1])
signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
os.makedirs('/run/lock', mode=0o1777, exist_ok=True)
os.chmod('/run/lock', 0o1777)
os.chdir('/')
# sshd daemonizes (and writes /run/sshd.pid, as the init.d script expects); its parent is reaped above.
os.spawnv(os.P_NOWAIT, '/usr/sbin/sshd', ['/usr/sbin/sshd', '-E', '/var/log/sshd.log'])
print('flight-lab-init: %s up' % socket.gethostname(), flush=True)
while True:
    time.sleep(3600)
    reap()
`;
