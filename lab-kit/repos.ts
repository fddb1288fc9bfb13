/**
 * Git repositories of an app to release, made in a temp dir: the stand-in app (test/fixtures/app,
 * where a failure is wanted on demand) or the Laravel example app. Flight reads them through their
 * path, as the control machine would read a remote, and each commit is a release that shows which
 * version a server serves.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CACHE_UNDER_HOME, mirrorDir } from '../modules/git_archive.js';
import { ROOT } from './cli.js';

export const FIXTURE_APP = path.join(ROOT, 'test', 'fixtures', 'app');

export interface FixtureRepo {
  dir: string;
  /** Every sha committed so far, oldest first (the first is the initial commit). */
  shas: string[];
  head(): string;
  /** Commit a new version (app/version.php says LABEL; `files` are written first) and return its sha. */
  commit(label: string, files?: Record<string, string>): string;
  /** Remove the repository and the mirror and archives Flight cached for it. */
  cleanup(): void;
}

const GIT_ID = ['-c', 'user.name=Flight tests', '-c', 'user.email=tests@flight.invalid', '-c', 'commit.gpgsign=false'];

/**
 * A git repository of test/fixtures/app (the stand-in app) in a temp dir with one commit (label
 * `v1`). Releases read it through its path, as the control machine would read a remote.
 */
export function makeFixtureRepo(parent: string = os.tmpdir()): FixtureRepo {
  const dir = fs.mkdtempSync(path.join(parent, 'flight-repo-'));
  fs.cpSync(FIXTURE_APP, dir, { recursive: true });
  const repo = fixtureRepo(dir);
  repo.git('init', '-q', '-b', 'main');
  repo.commit('v1');
  return repo;
}

/**
 * A git repository of the Laravel example app (examples/laravel, its Composer packages built
 * from Debian's Laravel and its composer.lock: scripts/laravel-app-repo) in a temp dir, with
 * the label `v1`. Later commits change app/version.php (and `files`), as with the stand-in.
 */
export function makeLaravelRepo(parent: string = os.tmpdir()): FixtureRepo {
  const dir = fs.mkdtempSync(path.join(parent, 'flight-laravel-'));
  execFileSync(path.join(ROOT, 'scripts', 'laravel-app-repo'), [dir, 'v1'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const repo = fixtureRepo(dir);
  repo.shas.push(repo.head());
  return repo;
}

/** Commits and clean-up of a fixture repository in `dir`, whichever app it holds. */
function fixtureRepo(dir: string): FixtureRepo & { git(...args: string[]): string } {
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...GIT_ID, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  const shas: string[] = [];
  const commit = (label: string, files: Record<string, string> = {}) => {
    for (const [rel, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), content);
    }
    // Both apps' READMEs: app/version.php must keep the form `<?php return '<label>';`.
    if (!/^[\w.-]+$/.test(label)) throw new Error(`label '${label}': letters, digits, '.', '_' and '-' only`);
    fs.writeFileSync(path.join(dir, 'app', 'version.php'), `<?php return '${label}';\n`);
    git('add', '-A');
    git('commit', '-q', '-m', `Version ${label}`);
    const sha = git('rev-parse', 'HEAD');
    shas.push(sha);
    return sha;
  };
  return {
    dir,
    shas,
    git,
    head: () => git('rev-parse', 'HEAD'),
    commit,
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
      // Where git_archive keeps its mirror (one per repository URL) and archives (one per commit).
      const cache = path.join(os.homedir(), CACHE_UNDER_HOME);
      const mirror = mirrorDir(cache, dir);
      fs.rmSync(mirror, { recursive: true, force: true });
      fs.rmSync(`${mirror}.lock`, { force: true });
      for (const sha of shas) fs.rmSync(path.join(cache, 'archives', `${sha}.tar.gz`), { force: true });
    },
  };
}
