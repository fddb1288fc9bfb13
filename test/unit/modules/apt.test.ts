import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { toShell, type Command } from '../../../src/command.js';
import type { ModuleContext } from '../../../src/module-kit/contract.js';
import { parseStatOutput, statCommand, type PathState } from '../../../src/module-kit/facts/file.js';
import { sha256 } from '../../../src/module-kit/write.js';
import { createAjv } from '../../../src/json-schema.js';
import { apt, aptChanged, aptSteps, decideApt, deb822, keyPath, packageNames, planApt, validate, type AptFacts, type AptParams } from '../../../modules/apt.js';
import { installArgs } from '../../../src/module-kit/apt-commands.js';
import { PROBE, parsePolicy, parseProbe, type AptState } from '../../../src/module-kit/facts/packages.js';

const KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\nabc\n-----END PGP PUBLIC KEY BLOCK-----\n';

test('apt schema', () => {
  const v = createAjv().compile(apt.schema);
  assert.ok(v({ name: 'tree' }));
  assert.ok(v({ name: ['tree', 'jq'], state: 'present', update_cache: true, cache_valid_time: 3600, install_recommends: false }));
  assert.ok(v({ name: 'php8.2-fpm', repository: { name: 'sury-php', url: 'https://packages.sury.org/php/', key_url: 'https://packages.sury.org/php/apt.gpg' } }));
  assert.ok(!v({ name: 'tree', state: 'absent' }), 'installs only');
  assert.ok(!v({ name: 'tree', state: 'latest' }), 'never upgrades');
  assert.ok(!v({ name: 'tree', repository: { name: 'bad name', url: 'x' } }), 'apt ignores such file names');
  assert.ok(!v({ name: 'tree', repository: { name: 'r', url: 'x', typo: 1 } }));
});

test('package names: list or a space/comma separated string, deduplicated', () => {
  assert.deepEqual(packageNames({ name: 'nginx php8.2-fpm, cron' }), ['nginx', 'php8.2-fpm', 'cron']);
  assert.deepEqual(packageNames({ name: ['jq', 'jq', 'libc6:amd64'] }), ['jq', 'libc6:amd64']);
});

test('validate names problems the schema cannot', () => {
  const cases: Array<[AptParams, RegExp | undefined]> = [
    [{ name: 'tree' }, undefined],
    [{ name: 'Tree' }, /invalid package name: Tree/],
    [{ name: ['ok', '-o=evil'] }, /invalid package name: -o=evil/],
    [{ name: 'tree', cache_valid_time: 60 }, /needs update_cache/],
    [{ name: 'jq', repository: { name: 'r', url: 'https://r/' } }, /exactly one of key or key_url/],
    [{ name: 'jq', repository: { name: 'r', url: 'https://r/', key: 'x', key_url: 'https://r/k' } }, /exactly one/],
    [{ name: 'jq', repository: { name: 'r', url: 'https://r/', key: 'not a key' } }, /ASCII-armored/],
    [{ name: 'jq', repository: { name: 'r', url: 'https://r/', key: KEY, suite: './', components: ['main'] } }, /flat suite/],
    [{ name: 'jq', repository: { name: 'r', url: 'https://r/ evil', key: KEY } }, /whitespace/],
    [{ name: 'jq', repository: { name: 'r', url: 'not a url', key: KEY } }, /whitespace|absolute URLs/],
    [{ name: 'jq', repository: { name: 'r', url: 'file:/srv/repo', key: KEY, suite: './' } }, undefined],
  ];
  for (const [p, want] of cases) {
    const got = validate(p);
    if (want) assert.match(got ?? '', want, JSON.stringify(p));
    else assert.equal(got, undefined, JSON.stringify(p));
  }
});

test('deb822 sources: Signed-By its own key; flat suites have no components', () => {
  assert.equal(
    deb822({ name: 'sury', url: 'https://packages.sury.org/php/', key_url: 'https://packages.sury.org/php/apt.gpg' }, 'bookworm'),
    'Types: deb\nURIs: https://packages.sury.org/php/\nSuites: bookworm\nComponents: main\nSigned-By: /etc/apt/keyrings/sury.gpg\n',
  );
  assert.equal(
    deb822({ name: 'local', url: 'file:/srv/repo', suite: './', key: KEY }, 'bookworm'),
    'Types: deb\nURIs: file:/srv/repo\nSuites: ./\nSigned-By: /etc/apt/keyrings/local.asc\n',
  );
  assert.match(deb822({ name: 'x', url: 'https://x/', suite: 'stable', components: ['main', 'contrib'], key: KEY }, 'bookworm'), /Suites: stable\nComponents: main contrib\n/);
  assert.equal(keyPath({ name: 'n', url: 'https://x/', key_url: 'https://x/key.asc' }), '/etc/apt/keyrings/n.asc');
});

test('parseProbe: installed means dpkg says "installed", per requested name (arch-qualified too)', () => {
  const out = [
    'now=1000', 'cache=900', 'lists=1',
    'pkg=tree\tamd64\tinstall ok installed',
    'pkg=jq\tamd64\tdeinstall ok config-files',
    'pkg=libc6\tamd64\thold ok installed',
    'pkg=tzdata\tall\tinstall ok installed',
    'pkg=half\tamd64\tinstall ok unpacked',
  ].join('\n');
  const st = parseProbe(out, ['tree', 'jq', 'libc6:amd64', 'libc6:i386', 'tzdata', 'half', 'absent']);
  assert.deepEqual([...st.installed], ['tree', 'libc6:amd64', 'tzdata']);
  assert.equal(st.now, 1000);
  assert.equal(st.cacheTime, 900);
  assert.equal(st.haveLists, true);
});

test('planApt: what to install and when to refresh the lists', () => {
  const st = (over: Partial<AptState> = {}): AptState => ({ installed: new Set(['tree']), now: 10_000, cacheTime: 9_000, haveLists: true, ...over });
  const cases: Array<[string, AptParams, AptState, boolean, string[], boolean, RegExp?]> = [
    ['all present, no cache update asked', { name: ['tree'] }, st(), false, [], false],
    ['missing package', { name: ['tree', 'jq'] }, st(), false, ['jq'], false],
    ['fresh lists within the window', { name: 'tree', update_cache: true, cache_valid_time: 3600 }, st(), false, [], false],
    ['stale lists', { name: 'tree', update_cache: true, cache_valid_time: 600 }, st(), false, [], true, /1000s old/],
    ['no window: always', { name: 'tree', update_cache: true }, st(), false, [], true],
    ['no lists at all', { name: 'tree', update_cache: true, cache_valid_time: 3600 }, st({ haveLists: false }), false, [], true, /no package lists/],
    ['clock went back', { name: 'tree', update_cache: true, cache_valid_time: 3600 }, st({ cacheTime: 20_000 }), false, [], true],
    ['repository changed', { name: 'tree' }, st(), true, [], true, /repository/],
    ['stale lists ignored without update_cache', { name: 'tree', cache_valid_time: 1 }, st(), false, [], false],
  ];
  for (const [what, p, s, repo, install, update, reason] of cases) {
    const plan = planApt(p, s, repo);
    assert.deepEqual(plan.toInstall, install, what);
    assert.equal(plan.updateCache, update, what);
    if (reason) assert.match(plan.updateReason ?? '', reason, what);
  }
});

test('decideApt: the repository files decide the refresh; a key by URL is downloaded once', () => {
  const packages: AptState = { installed: new Set(['tree']), now: 10_000, cacheTime: 9_000, haveLists: true };
  const none = decideApt({ name: ['tree'] }, { states: [], packages });
  assert.equal(aptChanged(none), false);
  assert.deepEqual(aptSteps(none, undefined), []);

  const repository = { name: 'sury', url: 'https://packages.sury.org/php/', key_url: 'https://packages.sury.org/php/apt.gpg' };
  const sources = { path: '/etc/apt/sources.list.d/sury.sources', content: deb822(repository, 'bookworm'), mode: '0644', owner: 'root', group: 'root' };
  const repo = { sources, keyPath: '/etc/apt/keyrings/sury.gpg' };
  const missing = (path: string, parentIsDir = true): PathState => ({ path, type: 'missing', parentIsDir });
  const fresh: AptFacts = { repo, states: [missing(sources.path), missing(repo.keyPath, false)], packages };
  const d = decideApt({ name: ['tree', 'jq'], repository }, fresh);
  assert.deepEqual([d.sourcesChanged, d.keyChanged, d.keyDownload, d.makeKeyDir], [true, true, true, true]);
  assert.deepEqual(d.plan, { toInstall: ['jq'], updateCache: true, updateReason: 'repository changed' });
  assert.deepEqual(aptSteps(d, repo), [
    ['write /etc/apt/keyrings/sury.gpg', 'wrote /etc/apt/keyrings/sury.gpg'],
    ['write /etc/apt/sources.list.d/sury.sources', 'wrote /etc/apt/sources.list.d/sury.sources'],
    ['update the package lists (repository changed)', 'updated the package lists (repository changed)'],
  ]);

  const file = (path: string, sha256: string): PathState => ({ path, type: 'file', parentIsDir: true, mode: '0644', owner: 'root', group: 'root', uid: 0, gid: 0, sha256 });
  const known = decideApt({ name: ['tree'], repository }, { repo, states: [file(sources.path, sha256(sources.content)), file(repo.keyPath, 'any')], packages });
  assert.deepEqual([known.keyDownload, known.keyChanged, aptChanged(known)], [false, false, false], 'a downloaded key is kept as it is');

  const blocked = decideApt({ name: ['tree'], repository }, { repo, states: [{ ...missing(sources.path), type: 'directory' }, missing(repo.keyPath)], packages });
  assert.match(blocked.error ?? '', /is a directory/);
});

/** A host where jq is missing and apt knows it; records what it is sent. */
function host(check: boolean) {
  const sent: Command[] = [];
  const answers = [
    `stat-end\0\0end\0\nnow=10000\ncache=9000\nlists=1\npkg=tree\tamd64\tinstall ok installed\n`,
    'step=policy\njq:\n  Installed: (none)\n  Candidate: 1.6\n',
    '',
  ];
  const ctx = {
    check, diff: false, facts: { codename: 'bookworm' },
    async exec(cmd: Command) {
      sent.push(cmd);
      return { code: 0, stdout: answers[sent.length - 1] ?? '', stderr: '' };
    },
  } as unknown as ModuleContext;
  return { ctx, sent };
}

test('apt: check mode asks apt about the missing packages from the current lists and installs nothing', async () => {
  const dry = host(true);
  assert.deepEqual(await apt.run(dry.ctx, { name: ['tree', 'jq'], update_cache: true }), {
    changed: true, msg: 'would update the package lists (update_cache), install jq', diff: undefined, data: { installed: [], cache_updated: false },
  });
  assert.equal(dry.sent.length, 2, 'the read, then the question to apt');
  assert.deepEqual((dry.sent[1] as { args?: readonly string[] }).args, ['', '', '0', 'jq'], 'no download, no refresh');

  const real = host(false);
  assert.deepEqual(await apt.run(real.ctx, { name: ['tree', 'jq'], update_cache: true }), {
    changed: true, msg: 'updated the package lists (update_cache), installed jq', diff: undefined, data: { installed: ['jq'], cache_updated: true },
  });
  assert.deepEqual((real.sent[1] as { args?: readonly string[] }).args, ['', '', '1', 'jq'], 'the refresh, then the question');
  assert.equal(real.sent.length, 3, 'read, refresh and ask, install');
});

test('parsePolicy: a candidate means apt can install it; unknown and virtual names have none', () => {
  const out = `step=policy
tree:
  Installed: (none)
  Candidate: 2.1.0-1
  Version table:
     2.1.0-1 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
mail-transport-agent:
  Installed: (none)
  Candidate: (none)
  Version table:
libc6:i386:
  Installed: (none)
  Candidate: 2.36-9
`;
  assert.deepEqual([...parsePolicy(out)], ['tree', 'libc6:i386']);
});

test('install arguments end options before the names', () => {
  assert.deepEqual(installArgs(['tree'], undefined), ['--', 'tree']);
  assert.deepEqual(installArgs(['tree', 'jq'], false), ['--no-install-recommends', '--', 'tree', 'jq']);
});

// The read (file-state script plus the dpkg probe) is fixed sh; on a Debian control machine it can
// run locally: dpkg itself is always installed, a made-up name never is.
test('the read command, run locally, finds dpkg installed and an unknown name absent', { skip: spawnSync('sh', ['-c', 'command -v dpkg-query']).status !== 0 && 'no dpkg here' }, () => {
  const names = ['dpkg', 'flight-no-such-package'];
  const r = spawnSync('sh', ['-c', toShell(statCommand([{ path: '/etc/apt/sources.list.d/flight-none.sources', checksum: true }], PROBE, names))], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { states, rest } = parseStatOutput(r.stdout, [{ path: '/etc/apt/sources.list.d/flight-none.sources' }]);
  assert.equal(states[0]!.type, 'missing');
  const st = parseProbe(rest, names);
  assert.deepEqual([...st.installed], ['dpkg']);
  assert.ok(st.now > 1_600_000_000);
});
