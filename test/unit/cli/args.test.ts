/**
 * The command line, from the declared option specs: every option of every command is tried in
 * each spelling (`--opt=value`, `--opt value`, `-o value`), given where it takes nothing or
 * without the value it needs, so an option cannot be added without being tested here. Then the
 * mistakes people make: unknown options (with the closest known one), values of the wrong kind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closestOption, optionsHelp, parseArgs, type OptionSpec } from '../../../src/cli/args.js';
import { PLAY_OPTIONS, parsePlayOptions } from '../../../src/cli/options.js';
import { DEFINITION_VERBS, runFlight, verbOptions } from '../../../src/cli/verbs.js';
import { LAB_OPTIONS } from '../../../src/cli/lab.js';
import { SERVER_OPTIONS } from '../../../src/cli/servers.js';
import { SERVE_OPTIONS, TOKEN_OPTIONS } from '../../../src/cli/serve.js';
import { KINDS } from '../../../src/kinds.js';
import { exitCodeOf } from '../../../src/errors.js';
import { defsFixture } from '../definitions/fixtures.js';

const COMMANDS: Array<[string, readonly OptionSpec[]]> = [
  ['flight-play', PLAY_OPTIONS],
  ...DEFINITION_VERBS.map((v): [string, readonly OptionSpec[]] => [`flight ${v}`, verbOptions(v)]),
  ['flight lab', LAB_OPTIONS],
  ['flight server:add', SERVER_OPTIONS],
  ['flight serve', SERVE_OPTIONS],
  ['flight token:create', TOKEN_OPTIONS],
];

/** A value each option accepts: from its kind, or one its check was written for. */
const GOOD: Record<string, string> = {
  forks: '5', 'host-key-policy': 'accept-new', servers: '2', port: '2222', first: '127.0.0.30', 'ssh-port': '2222', 'lock-timeout': '30',
  'drain-timeout': '10', host: '127.0.0.1', like: 'web-1', listen: '10.0.0.5', to: '20261126T052400Z-1a2b3c4d5e6f', 'ssh-user': 'deploy',
};
const goodValue = (s: OptionSpec): string => GOOD[s.name] ?? (typeof s.check === 'string' ? ({ 'local-path': 'some/path' } as Record<string, string>)[s.check] ?? 'x' : 'x');

for (const [where, specs] of COMMANDS) {
  test(`${where}: every declared option, in every spelling`, () => {
    const names = specs.map((s) => s.name);
    assert.equal(new Set(names).size, names.length, 'no option declared twice');
    const shorts = specs.filter((s) => s.short).map((s) => s.short);
    assert.equal(new Set(shorts).size, shorts.length, 'no letter used twice');
    for (const s of specs) {
      const long = s.name.length === 1 ? `-${s.name}` : `--${s.name}`;
      if (s.takes === 'flag') {
        assert.deepEqual(parseArgs([long, 'pos'], specs, where), { options: { [s.name]: true }, positional: ['pos'] }, long);
        if (s.short) assert.deepEqual(parseArgs([`-${s.short}`], specs, where).options, { [s.name]: true }, `-${s.short}`);
        assert.throws(() => parseArgs([`${long}=yes`], specs, where), new RegExp(`${long} takes no value`), `${long}=yes`);
      } else if (s.takes === 'count') {
        assert.deepEqual(parseArgs([long, long], specs, where).options, { [s.name]: 2 }, long);
        assert.deepEqual(parseArgs([`-${s.name.repeat(3)}`], specs, where).options, { [s.name]: 3 }, `-${s.name.repeat(3)}`);
      } else {
        const v = goodValue(s);
        const want = s.takes === 'values' ? [v] : v;
        assert.deepEqual(parseArgs([`${long}=${v}`], specs, where).options, { [s.name]: want }, `${long}=${v}`);
        assert.deepEqual(parseArgs([long, v, 'pos'], specs, where), { options: { [s.name]: want }, positional: ['pos'] }, `${long} ${v}`);
        if (s.short) assert.deepEqual(parseArgs([`-${s.short}`, v], specs, where).options, { [s.name]: want }, `-${s.short} ${v}`);
        assert.throws(() => parseArgs([long], specs, where), new RegExp(`${long} needs a value`), `${long} at the end`);
        assert.throws(() => parseArgs([long, '--help'], specs, where), new RegExp(`${long} needs a value`), `${long} followed by an option`);
        if (s.check) assert.throws(() => parseArgs([`${long}=bad value\n`], specs, where), new RegExp(`${where}: .*(is not valid|expected)`), `${long} with a bad value`);
      }
      assert.ok(optionsHelp(specs).includes(long), `${where} --help lists ${long}`);
    }
    assert.throws(() => parseArgs(['--no-such-option'], specs, where), new RegExp(`^.*${where}: unknown option --no-such-option .*see ${where} --help`));
  });
}

test('a mistyped option is refused and the likely one named; a value after `--` is a word', () => {
  assert.throws(() => parsePlayOptions(['release', '--dry-run']), /flight-play: unknown option --dry-run; did you mean --check\?/);
  assert.throws(() => parsePlayOptions(['release', '--limt', 'web']), /unknown option --limt; did you mean --limit\?/);
  assert.throws(() => parsePlayOptions(['release', '--chekc']), /did you mean --check\?/);
  assert.throws(() => parsePlayOptions(['release', '-x']), /unknown option -x/);
  assert.equal(closestOption('zzzzzz', PLAY_OPTIONS), undefined);
  assert.deepEqual(parseArgs(['--', '--check', '-v'], PLAY_OPTIONS, 'flight-play').positional, ['--check', '-v']);
});

test('the verbs: --to=ID and --out=FILE are read as --to ID is; -i is not a verb option', () => {
  const rollback = verbOptions('app:rollback');
  assert.equal(parseArgs(['shop', '--to=20261126T052400Z-1a2b3c4d5e6f'], rollback, 'flight app:rollback').options.to, '20261126T052400Z-1a2b3c4d5e6f');
  assert.throws(() => parseArgs(['shop', '--to', '-1'], rollback, 'flight app:rollback'), /--to needs a value/);
  assert.throws(() => parseArgs(['shop', '--to=../x'], rollback, 'flight app:rollback'), /--to "\.\.\/x" is not valid: expected a release id/);
  assert.equal(parseArgs(['shop', '--out=x.env'], verbOptions('env:pull'), 'flight env:pull').options.out, 'x.env');
  assert.throws(() => parsePlayOptions(['shop', '-i', 'hosts.yml'], verbOptions('app:configure'), 'flight app:configure'), /unknown option -i \(see/, 'one letter: no guess');
});

test('flight VERB: an option of flight-play\'s only says so; extra words are refused', async () => {
  await assert.rejects(runFlight(['app:configure', 'shop', '-i', 'hosts.yml']), /flight app:configure: -i is not an option here: the verbs build their inventory from the definitions/);
  await assert.rejects(runFlight(['app:configure', 'shop', '--inventory=hosts.yml']), /--inventory is not an option here/);
  await assert.rejects(runFlight(['provision', 'lab', 'extra']), /flight provision: unexpected argument 'extra' \(usage: flight provision CLUSTER\)/);
  await assert.rejects(runFlight(['app:release', 'shop']), /missing arguments: flight app:release APP SHA/);
  assert.throws(() => parseArgs(['--hots', 'x'], SERVE_OPTIONS, 'flight serve'), /unknown option --hots; did you mean --host\?/);
  assert.throws(() => parseArgs(['shop', '--to', 'x'], verbOptions('app:release'), 'flight app:release'), /unknown option --to/);
});

test('flight app:remove asks for --yes (or --check) before it connects anywhere', async () => {
  const defs = ['--defs', defsFixture('good')];
  await assert.rejects(runFlight(['app:remove', 'shop', ...defs]), (err: Error) => {
    assert.match(err.message, /flight app:remove shop removes the app from its servers \(.+\): add --yes to go ahead, or --check to see what it would do/);
    assert.equal(exitCodeOf(err), 5);
    return true;
  });
  await assert.rejects(runFlight(['app:remove', 'nosuch', '--yes', ...defs]), /unknown app 'nosuch'/);
});

test('play options: verbosity counts, lists split and repeat, bad values rejected', () => {
  const o = parsePlayOptions(['release.yml', '-vv', '--tags', 'a,b', '-t', 'c', '--check', '-e', 'app=x', '--forks', '5', '--host-key-policy=accept-new']);
  assert.equal(o.verbosity, 2);
  assert.deepEqual(o.tags, ['a', 'b', 'c']);
  assert.equal(o.check, true);
  assert.equal(o.forks, 5);
  assert.equal(o.hostKeyPolicy, 'accept-new');
  assert.deepEqual(o.extraVars, { app: 'x' });
  assert.deepEqual(o.positional, ['release.yml']);
  assert.throws(() => parsePlayOptions(['x', '--forks', '0']), /--forks: expected a whole number >= 1/);
  assert.throws(() => parsePlayOptions(['x', '--host-key-policy', 'yolo']), /--host-key-policy: expected strict, accept-new, off/);
});

test('every kind a spec names exists', () => {
  for (const [where, specs] of COMMANDS) {
    for (const s of specs) if (typeof s.check === 'string') assert.ok(KINDS.has(s.check), `${where} --${s.name}: kind ${s.check}`);
  }
});
