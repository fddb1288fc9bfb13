/**
 * Whether overlayfs can be mounted with upper dirs in the state dir (not on every filesystem or
 * kernel); when it cannot, each server gets a full copy of the base instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { run } from './proc.js';

const verdicts = new Map<string, boolean>();

export async function overlayWorks(stateDir: string): Promise<boolean> {
  // FLIGHT_LAB_OVERLAY=0 forces the copy fallback (to test it, or to dodge an overlayfs bug).
  if (process.env.FLIGHT_LAB_OVERLAY === '0') return false;
  const known = verdicts.get(stateDir);
  if (known !== undefined) return known;
  const probe = fs.mkdtempSync(path.join(stateDir, '.overlay-probe-'));
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) fs.mkdirSync(path.join(probe, d));
    const options = `lowerdir=${probe}/lower,upperdir=${probe}/upper,workdir=${probe}/work`;
    // In a throwaway mount namespace: the probe mount disappears with it.
    const result = await run(['unshare', '--mount', '--', 'mount', '-t', 'overlay', 'probe', '-o', options, `${probe}/merged`]);
    verdicts.set(stateDir, result.code === 0);
    return result.code === 0;
  } finally {
    fs.rmSync(probe, { recursive: true, force: true });
  }
}
