/**
 * Names that come from file names: an app's name becomes a Linux user and group on every
 * server, so it must be a valid user name and must not take over an account the system uses.
 */
import { APP_NAME_PATTERN, CLUSTER_NAME_PATTERN } from './schemas/common.js';

/**
 * System users and groups of Debian/Ubuntu servers and of the packages Flight installs (nginx,
 * php-fpm, supervisor, databases often found beside them). `useradd` also creates a group of
 * the same name, so group names such as `sudo` or `adm` would grant their rights to the app.
 * `default` is Redis's own user (an app's Redis user takes the app's name).
 */
export const RESERVED_USER_NAMES: ReadonlySet<string> = new Set([
  'root', 'daemon', 'bin', 'sys', 'sync', 'games', 'man', 'lp', 'mail', 'news', 'uucp', 'proxy',
  'backup', 'list', 'irc', 'gnats', 'nobody', 'nogroup', 'messagebus', 'sshd', 'syslog', 'ntp',
  'systemd', 'polkitd', 'avahi', 'dnsmasq', 'uuidd', 'tss', 'tcpdump', 'statd', 'landscape',
  'pollinate', 'rtkit', 'usbmux', 'dhcpcd', 'lxd', 'docker', 'postfix', 'mysql', 'postgres',
  'redis', 'memcache', 'nginx', 'apache', 'httpd', 'git', 'admin', 'ubuntu', 'debian',
  'operator', 'halt', 'shutdown', 'adm', 'staff', 'users', 'sudo', 'wheel', 'shadow', 'tty',
  'disk', 'kmem', 'dialout', 'cdrom', 'floppy', 'audio', 'video', 'plugdev', 'netdev', 'crontab',
  'utmp', 'voice', 'tape', 'fax', 'src', 'sasl', 'input', 'kvm', 'render', 'ssl_cert', 'flight',
  'supervisor', 'www', 'ftp', 'guest', 'default',
]);

/** Why `name` cannot be an app name, or undefined when it can. */
export function appNameProblem(name: string): string | undefined {
  if (!new RegExp(APP_NAME_PATTERN).test(name)) {
    return `app name '${name}' (from the file name) must match ${APP_NAME_PATTERN}: it becomes a Linux user name`;
  }
  if (RESERVED_USER_NAMES.has(name)) {
    return `app name '${name}' (from the file name) is a reserved system user name: rename the file`;
  }
  return undefined;
}

export function clusterNameProblem(name: string): string | undefined {
  if (!new RegExp(CLUSTER_NAME_PATTERN).test(name)) {
    return `cluster name '${name}' (from the file name) must match ${CLUSTER_NAME_PATTERN}`;
  }
  return undefined;
}

/** Server names that would be ambiguous in host patterns with a group or the implicit localhost. */
export const RESERVED_SERVER_NAMES: ReadonlySet<string> = new Set(['all', 'localhost', 'web', 'workers', 'scheduler', 'ungrouped']);
