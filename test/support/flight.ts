/**
 * What end-to-end tests add to the lab kit (lab-kit/): an assertion that a run of the CLI
 * succeeded, and a private lab whose teardown is tied to the node:test context that asked for it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeRun, type FlightRun } from '../../lab-kit/cli.js';
import { makeLab } from '../../lab-kit/defs.js';
import { makeFixtureRepo, makeLaravelRepo, type FixtureRepo } from '../../lab-kit/repos.js';

/** The run succeeded: exit 0, a recap at the end, and (with --json) nothing but JSON events on stdout. */
export function assertOk(run: FlightRun): void {
  assert.equal(run.code, 0, describeRun(run));
  assert.deepEqual(run.stray, [], 'with --json, stdout carries only JSON events');
  assert.ok(run.recap, `a recap ends the run\n${describeRun(run)}`);
}

/**
 * A lab of the test's own (fresh servers at `first`...), a scratch folder and a repository of the
 * Laravel example app or the stand-in app, all torn down when the test ends (`t.after`), the
 * lab with `--purge`.
 */
export async function privateLab(t: { after(fn: () => Promise<void>): void }, o: { name: string; first: string; servers: number; app: 'laravel' | 'stand-in' }): Promise<{ work: string; repo: FixtureRepo; lab: Awaited<ReturnType<typeof makeLab>> }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `flight-${o.name}-`));
  const repo = o.app === 'laravel' ? makeLaravelRepo(work) : makeFixtureRepo(work);
  const lab = await makeLab({ first: o.first, servers: o.servers, repo: repo.dir });
  t.after(async () => {
    const down = await lab.down();
    repo.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
    assert.equal(down.code, 0, `flight lab down --purge:\n${describeRun(down)}`);
  });
  return { work, repo, lab };
}
