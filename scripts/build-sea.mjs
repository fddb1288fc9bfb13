#!/usr/bin/env node
/**
 * `npm run build:sea`: one executable file, build/flight, that runs Flight on a machine with no
 * Node.js or npm (Node's single executable applications, on the node that runs this script).
 *
 * Node 20's SEA runs one CommonJS script and carries no files, so:
 *   1. the script is the bundled CLI, dist/flight.cjs (scripts/bundle.mjs), the same file npm
 *      installs, with one line in front of it: the built-in playbooks, templates and example
 *      inventory as data, unpacked once per version into ~/.cache/flight (src/sea/assets.ts,
 *      src/cli/entry.ts);
 *   2. `node --experimental-sea-config` makes the blob, and postject injects it into a copy of
 *      the node binary.
 * Run after `npm run build`, which makes dist/flight.cjs.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUNDLE, ROOT as root } from './bundle.mjs';

const out = path.join(root, 'build', 'sea');
const exe = path.join(root, 'build', process.platform === 'win32' ? 'flight.exe' : 'flight');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const step = (s) => process.stderr.write(`build:sea: ${s}\n`);

if (!fs.existsSync(BUNDLE)) {
  console.error('build:sea: dist/flight.cjs is missing: run npm run build first');
  process.exit(5);
}
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

// 1. The built-in content, as the npm package ships it (package.json "files"), minus the
//    lab's generated cluster file, in front of the bundle.
const files = {};
const skip = new Set(['inventory/clusters/lab.yml']);
function add(rel) {
  const full = path.join(root, rel);
  const st = fs.statSync(full);
  if (st.isDirectory()) for (const name of fs.readdirSync(full).sort()) add(path.posix.join(rel, name));
  else if (!skip.has(rel)) files[rel] = [st.mode & 0o777, fs.readFileSync(full).toString('base64')];
}
for (const dir of ['playbooks', 'templates', 'inventory']) add(dir);
files['package.json'] = [0o644, Buffer.from(JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module' }, null, 2) + '\n').toString('base64')];
const bundle = path.join(out, 'flight.cjs');
// The bundle's first line is its #! line: a script given to the SEA must not start with one.
const code = fs.readFileSync(BUNDLE, 'utf8').replace(/^#!.*\n/, '');
fs.writeFileSync(bundle, `globalThis.__flightSeaAssets = ${JSON.stringify({ version: pkg.version, files })};\n${code}`);
step(`${Object.keys(files).length} built-in files, bundle ${(fs.statSync(bundle).size / 1024).toFixed(0)} KiB`);

// 2. The blob, and a node binary carrying it.
const blob = path.join(out, 'flight.blob');
const config = path.join(out, 'sea-config.json');
fs.writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });
fs.rmSync(exe, { force: true });
fs.copyFileSync(process.execPath, exe);
fs.chmodSync(exe, 0o755);
const postject = path.join(root, 'node_modules', 'postject', 'dist', 'cli.js');
const args = [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'];
if (process.platform === 'darwin') args.push('--macho-segment-name', 'NODE_SEA');
execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });

// 3. It runs.
const version = execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim();
if (version !== `flight ${pkg.version}`) throw new Error(`build/flight --version said '${version}'`);
step(`${path.relative(root, exe)} (${(fs.statSync(exe).size / 1048576).toFixed(0)} MiB): ${version}`);
