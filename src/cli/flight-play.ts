#!/usr/bin/env node
/** `flight-play PLAYBOOK [options]`: run a playbook, the way ansible-playbook is used. */
import { invalid } from '../errors.js';
import { runMain } from './main.js';
import { optionsHelp } from './args.js';
import { EXIT_CODES_HELP } from './main.js';
import { parsePlayOptions, PLAY_OPTIONS } from './options.js';
import { VERSION } from '../version.js';

export const PLAY_HELP = `Usage: flight-play PLAYBOOK [options]

PLAYBOOK is a path to a playbook, or a built-in by name (provision, release, configure, ...).

Options (\`--opt value\` or \`--opt=value\`; an unknown option is an error):
${optionsHelp(PLAY_OPTIONS)}

${EXIT_CODES_HELP}
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
  // The engine loads only now: --help and --version answer without it.
  return (await import('./play.js')).playCommand(o.positional[0]!, o);
});
