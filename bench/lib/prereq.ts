/** The peers come from Debian's packages; say how to get them rather than fail half-way. */
import fs from 'node:fs';

export function onPathOrThrow(programs: string[]): void {
  const dirs = (process.env.PATH || '/usr/bin:/bin').split(':');
  const missing = programs.filter((p) => !dirs.some((d) => {
    try {
      fs.accessSync(`${d}/${p}`, fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  }));
  if (missing.length) {
    throw new Error(`missing ${missing.join(', ')}: the benchmark needs Debian's ansible and capistrano packages (apt-get install ansible capistrano)`);
  }
}
