/**
 * Whether a pushed commit is one the app has already gone past: the commit of its last release,
 * or an ancestor of it. Asked of the bare mirror the releases keep on this machine
 * (modules/git_archive.ts), which holds every commit released and their history; nothing is
 * fetched. A commit the mirror does not know yet is new (a push of fresh work): `unknown`.
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { CACHE_UNDER_HOME, mirrorDir } from '../../modules/git_archive.js';
import { KINDS } from '../kinds.js';

export type Ancestry = 'behind' | 'ahead' | 'unknown';

export function defaultCacheDir(): string {
  return path.join(os.homedir(), CACHE_UNDER_HOME);
}

/** `behind`: `sha` is `released` or an ancestor of it; `ahead`: it is not; `unknown`: the mirror cannot tell. */
export function ancestry(repo: string, sha: string, released: string, cacheDir = defaultCacheDir()): Promise<Ancestry> {
  const isSha = KINDS.get('sha')!.test;
  if (!isSha(sha) || !isSha(released)) return Promise.resolve('unknown');
  return new Promise((resolve) => {
    execFile('git', ['-C', mirrorDir(cacheDir, repo), 'merge-base', '--is-ancestor', `${sha}^{commit}`, `${released}^{commit}`], { timeout: 10_000 }, (err) => {
      if (!err) return resolve('behind');
      resolve((err as { code?: unknown }).code === 1 ? 'ahead' : 'unknown');
    });
  });
}
