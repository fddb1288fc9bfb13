#!/usr/bin/env node
/** `flight-play PLAYBOOK [options]`: run a playbook, the way ansible-playbook is used. */
import { invalid } from '../errors.js';
import { runMain } from './main.js';
import { parsePlayOptions } from './options.js';
import { playCommand } from './play.js';
import { VERSION } from '../version.js';

export const PLAY_HELP = `Usage: flight-play PLAYBOOK [options]

PLAYBOOK is a path to a playbook, or a built-in by name (provision, release, configure, ...).

Options:
  -e, --extra-vars VARS    k=v pairs, @vars.yml, or a JSON mapping (repeatable; highest precedence)
      --defs DIR           definitions folder with flight.yml, clusters/, apps/ (default: .)
  -i, --inventory FILE     a plain Ansible-style YAML inventory instead of definitions
  -C, --check              dry run: change nothing, report what would change
  -D, --diff               show before/after of every file written (or that would be)
  -l, --limit PATTERN      only these hosts (host patterns: web, lab-1, a:b, a:&b, a:!b, lab-*)
  -t, --tags T1,T2         only tasks with these tags
      --skip-tags T1,T2    skip tasks with these tags
      --start-at-task NAME start at the task with this name
  -f, --forks N            hosts in parallel (default 25)
      --host-key-policy P  strict (default) | accept-new | off
      --list-hosts         print the hosts each play would touch, then exit
      --list-tasks         print the tasks, then exit
      --json               one JSON event per line on stdout, ending with a recap
      --plain              line-per-event output (default when not a terminal or in CI)
  -v, -vv                  more output; -vv shows every command and its output
Exit codes: 0 ok, 2 a task failed, 4 a host unreachable, 5 invalid input.
`;

runMain(async () => {
  const o = parsePlayOptions(process.argv.slice(2));
  if (o.version) {
    process.stdout.write(`flight-play ${VERSION}\n`);
    return 0;
  }
  if (o.help) {
    process.stdout.write(PLAY_HELP);
    return 0;
  }
  if (o.positional.length !== 1) throw invalid(`expected one playbook, got ${o.positional.length ? o.positional.join(' ') : 'none'} (see flight-play --help)`);
  return playCommand(o.positional[0]!, o);
});
