/**
 * The entry of the bundled CLI, dist/flight.cjs (scripts/bundle.mjs): one file that is both
 * `flight` and `flight-play` (npm links both names to it), and, with the built-in content put in
 * front of it, the single executable (scripts/build-sea.mjs). Which CLI runs follows the name it
 * was invoked by. The CLI modules are imported only once the installation root is known: they
 * locate the built-in playbooks as they load (paths.ts reads `import.meta.url`, which the bundle
 * points at `globalThis.__flightRootUrl`).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { unpackAssets } from '../sea/assets.js';

declare global {
  // A file URL inside the installation root: the bundle's own file, or in the single
  // executable the root its built-in content was unpacked to.
  var __flightRootUrl: string | undefined;
}

function main(): Promise<unknown> {
  let invokedAs = path.basename(process.argv[1] ?? 'flight');
  const assets = globalThis.__flightSeaAssets;
  if (assets) {
    const root = unpackAssets(assets);
    globalThis.__flightRootUrl = pathToFileURL(path.join(root, 'dist', 'flight.cjs')).href;
    // In a single executable argv[1] repeats the executable; the CLIs read their words from
    // argv[2]. One file serves both names: a link named flight-play, or `flight play ...`.
    invokedAs = path.basename(process.argv0 || process.argv[0] || 'flight');
    if (process.argv[2] === 'play') {
      process.argv.splice(2, 1);
      invokedAs = 'flight-play';
    }
  }
  return invokedAs.startsWith('flight-play') ? import('./flight-play.js') : import('./flight.js');
}

main().catch((err: unknown) => {
  process.stderr.write(`flight: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
