/**
 * Entry of the single executable (`npm run build:sea`): one file that is both `flight` and
 * `flight-play`. Invoked through a link named flight-play (or as `flight play ...`), it is
 * flight-play; otherwise flight. The CLI modules are imported only after the built-in content
 * is unpacked, because they locate it when they load.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { unpackAssets } from './assets.js';

declare global {
  // What `import.meta.url` reads in the bundle (the build defines it so): a URL inside the
  // unpacked root, from which paths.ts finds package.json and playbooks/.
  var __flightSeaUrl: string | undefined;
}

function main(): Promise<unknown> {
  const assets = globalThis.__flightSeaAssets;
  if (!assets) throw new Error('this build carries no built-in content (build it with npm run build:sea)');
  const root = unpackAssets(assets);
  globalThis.__flightSeaUrl = pathToFileURL(path.join(root, 'dist', 'src', 'cli', 'flight.js')).href;
  // In a single executable, argv[1] repeats the executable; the CLIs read their words from argv[2].
  const invokedAs = path.basename(process.argv0 || process.argv[0] || 'flight');
  if (process.argv[2] === 'play') {
    process.argv.splice(2, 1);
    return import('../cli/flight-play.js');
  }
  return invokedAs.startsWith('flight-play') ? import('../cli/flight-play.js') : import('../cli/flight.js');
}

main().catch((err: unknown) => {
  process.stderr.write(`flight: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
