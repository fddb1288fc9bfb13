#!/usr/bin/env node
/**
 * The bundled CLI: dist/flight.cjs, one CommonJS file with Flight and its dependencies, which
 * both `flight` and `flight-play` run (src/cli/entry.ts). Node resolves and reads one file at
 * start instead of hundreds, which is most of a command's start time. The single executable
 * runs the same file (scripts/build-sea.mjs).
 *
 * `import.meta.url` (paths.ts finds the installation root from it) becomes a global the bundle's
 * first line sets to the bundle's own location; the single executable's entry replaces it with
 * the root it unpacks. ssh2's optional native addons (its faster crypto, CPU feature detection)
 * are required at run time from node_modules where they exist (an npm install), and are left out
 * in a single executable, which can require nothing but node's own modules: ssh2 then uses its
 * JavaScript crypto.
 *
 * Run after tsc (`npm run build` does both): it bundles the compiled dist/src/cli/entry.js.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BUNDLE = path.join(ROOT, 'dist', 'flight.cjs');

/** Native addons: ssh2's crypto binding (by relative path) and cpu-features. */
const NATIVE = /\.node$|^cpu-features$/;

export async function bundleCli() {
  const entry = path.join(ROOT, 'dist', 'src', 'cli', 'entry.js');
  if (!fs.existsSync(entry)) throw new Error('dist/src/cli/entry.js is missing: run tsc first (npm run build)');
  await build({
    entryPoints: [entry],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node\nglobalThis.__flightRootUrl = require("node:url").pathToFileURL(__filename).href;' },
    define: { 'import.meta.url': 'globalThis.__flightRootUrl' },
    plugins: [{
      name: 'native-addons-at-run-time',
      setup(b) {
        // As a package path (ssh2/lib/...), which node resolves from the bundle's node_modules.
        b.onResolve({ filter: NATIVE }, (a) => ({
          path: a.path.endsWith('.node') ? path.relative(path.join(ROOT, 'node_modules'), path.join(a.resolveDir, a.path)).split(path.sep).join('/') : a.path,
          namespace: 'native',
        }));
        // Required by node at run time, through a name esbuild does not follow; never inside a
        // single executable (ssh2 catches the error and goes on).
        b.onLoad({ filter: /.*/, namespace: 'native' }, (a) => ({
          contents: `if (require('node:sea').isSea()) throw new Error(${JSON.stringify(`${a.path}: native addon left out of the single executable`)});\nconst load = require;\nmodule.exports = load(${JSON.stringify(a.path)});`,
          loader: 'js',
        }));
      },
    }],
    logLevel: 'warning',
    legalComments: 'none',
  });
  fs.chmodSync(BUNDLE, 0o755);
  return BUNDLE;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await bundleCli();
  process.stderr.write(`bundle: ${path.relative(ROOT, out)} ${(fs.statSync(out).size / 1024).toFixed(0)} KiB\n`);
}
