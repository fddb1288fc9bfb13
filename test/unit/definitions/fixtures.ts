/** Where the definition fixtures are, from the source tree or from its compiled copy in dist/. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root');
    dir = up;
  }
  return dir;
}

export const DEFS_FIXTURES = path.join(repoRoot(), 'test', 'fixtures', 'defs');
export const defsFixture = (...parts: string[]) => path.join(DEFS_FIXTURES, ...parts);
