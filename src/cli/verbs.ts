/**
 * `flight VERB ...`: short verbs over the built-in playbooks (each is exactly
 * `flight-play PLAYBOOK -e ...`), plus the lab, elastic servers and the deploy server. Each verb
 * declares its arguments and options; they are checked, then checked against the definitions,
 * before anything connects.
 */
import path from 'node:path';
import type { Definitions } from '../definitions/index.js';
import { invalid } from '../errors.js';
import { kindError } from '../kinds.js';
import { VERSION } from '../version.js';
import { optionsHelp, type OptionSpec, type OptionValue } from './args.js';
import { parsePlayOptions, PLAY_OPTIONS } from './options.js';

export const HELP = `Usage: flight VERB [arguments] [options]

Servers and releases:
  provision CLUSTER          install packages, PHP, nginx, composer on every server of CLUSTER
  app:configure APP          PHP-FPM pool, nginx vhost, queue workers, scheduler for APP
  app:release APP SHA        release commit SHA of APP to its servers (zero downtime)
  app:rollback APP [--to ID] switch APP back to its previous release (or release ID)
  app:releases APP           list each server's releases, which is current, who made them
  env:pull APP [--out FILE]  download APP's .env (mode 0600; default ./APP.env)
  env:push APP [FILE]        upload FILE (default ./APP.env) as APP's .env on every server
  app:remove APP --yes       remove APP from its servers (workers, vhost, pool, user, home),
                             saving shared/ and the env first; the database stays

Elastic clusters (docs/elastic.md):
  server:add CLUSTER NAME HOST [--web] [--like SERVER] [--copy queues,scheduler,deploy_commands]
                             provision NAME, configure and release every app of the --like
                             server on it at its current commit, then print \`ready: NAME\`
  server:remove CLUSTER NAME [--keep-workers]
                             no release reaches NAME any more; its workers and scheduler stop

Deploy server (docs/serve.md):
  serve [--host H] [--port N] [--data DIR] [--tls-cert F --tls-key F] [--drain-timeout S]
                             the HTTP API that CI calls to release a commit
  token:create APP           print a new deploy token for APP (stored only as its sha256)
  token:revoke APP           remove APP's deploy token from the data dir

Local lab (real Debian servers on this machine, as root):
  lab up [--servers N]       start N servers (default 3) and write clusters/lab.yml
  lab status | down [--purge] | stop NAME | start NAME

Options (all verbs that run a playbook; see flight-play --help):
  --defs DIR  --check  --diff  --limit PATTERN  --json  --plain  -v/-vv  --forks N
  --force-unlock             (release, rollback, remove) break a deploy lock left by a dead run

Every verb runs a built-in playbook: \`flight app:release shop 1a2b3c\` is
\`flight-play release -e app=shop -e sha=1a2b3c\`.
`;

/** Options of the verbs that run a playbook: flight-play's, but the inventory comes from the definitions. */
const VERB_PLAY_OPTIONS = PLAY_OPTIONS.filter((o) => o.name !== 'inventory');
const FORCE_UNLOCK: OptionSpec = { name: 'force-unlock', takes: 'flag', help: 'break a deploy lock left by a dead run (the run says whose it was)' };
const TO: OptionSpec = { name: 'to', takes: 'value', arg: 'ID', help: 'the release to go back to (see flight app:releases APP)', check: 'release-id' };
const YES: OptionSpec = { name: 'yes', takes: 'flag', help: 'really remove the app (without it, only --check runs)' };
const OUT: OptionSpec = { name: 'out', takes: 'value', arg: 'FILE', help: 'where to write the .env (default ./APP.env)', check: 'local-path' };
/** Why a flight-play option is not a verb's. */
const VERB_ELSEWHERE: Record<string, string> = {
  inventory: "the verbs build their inventory from the definitions (--defs); -i FILE is flight-play's",
  i: "the verbs build their inventory from the definitions (--defs); -i FILE is flight-play's",
};
/** app:releases runs no playbook: only these. */
const RELEASES_OPTIONS = PLAY_OPTIONS.filter((o) => ['defs', 'json', 'plain', 'host-key-policy', 'help'].includes(o.name));

interface Verb {
  usage: string;
  playbook: string;
  /** Words after the verb: at least, at most. */
  args: [number, number];
  /** The verb's own options, besides VERB_PLAY_OPTIONS. */
  options?: OptionSpec[];
  /** Turn the verb's words and options into extra vars, checking them against the definitions. */
  vars(args: string[], options: Record<string, OptionValue>, defs: Definitions): Record<string, unknown>;
}

/** --force-unlock, as the release, rollback and remove playbooks read it. */
const forceUnlock = (o: Record<string, OptionValue>): { force_unlock?: true } => (o['force-unlock'] ? { force_unlock: true } : {});

function knownApp(name: string | undefined, defs: Definitions): string {
  if (!name || !defs.apps.has(name)) {
    const known = [...defs.apps.keys()].join(', ') || 'none';
    throw invalid(`unknown app '${name ?? ''}' in ${path.join(defs.dir, 'apps')} (apps: ${known})`);
  }
  return name;
}

const VERBS: Record<string, Verb> = {
  provision: {
    usage: 'provision CLUSTER',
    playbook: 'provision',
    args: [1, 1],
    vars(args, _o, defs) {
      if (!defs.clusters.has(args[0]!)) {
        throw invalid(`unknown cluster '${args[0]}' in ${path.join(defs.dir, 'clusters')} (clusters: ${[...defs.clusters.keys()].join(', ') || 'none'})`);
      }
      return { cluster: args[0] };
    },
  },
  'app:configure': {
    usage: 'app:configure APP',
    playbook: 'configure',
    args: [1, 1],
    vars: (args, _o, defs) => ({ app: knownApp(args[0], defs) }),
  },
  'app:release': {
    usage: 'app:release APP SHA [--force-unlock]',
    playbook: 'release',
    args: [2, 2],
    options: [FORCE_UNLOCK],
    vars(args, o, defs) {
      const sha = args[1]!.toLowerCase();
      const bad = kindError('sha', sha, 'the sha');
      if (bad) throw invalid(bad);
      return { app: knownApp(args[0], defs), sha, ...forceUnlock(o) };
    },
  },
  'app:rollback': {
    usage: 'app:rollback APP [--to ID] [--force-unlock]',
    playbook: 'rollback',
    args: [1, 1],
    options: [TO, FORCE_UNLOCK],
    vars: (args, o, defs) => ({
      app: knownApp(args[0], defs),
      ...(o.to !== undefined ? { to: o.to } : {}),
      ...forceUnlock(o),
    }),
  },
  'app:remove': {
    usage: 'app:remove APP --yes [--force-unlock]',
    playbook: 'remove',
    args: [1, 1],
    options: [YES, FORCE_UNLOCK],
    vars(args, o, defs) {
      const app = knownApp(args[0], defs);
      if (!o.yes && !o.check) {
        throw invalid(`flight app:remove ${app} removes the app from its servers (${defs.apps.get(app)!.servers.map((x) => x.name).join(', ')}): add --yes to go ahead, or --check to see what it would do`);
      }
      return { app, ...forceUnlock(o) };
    },
  },
  'env:pull': {
    usage: 'env:pull APP [--out FILE]',
    playbook: 'env-pull',
    args: [1, 1],
    options: [OUT],
    vars(args, o, defs) {
      const app = knownApp(args[0], defs);
      return { app, dest: path.resolve(String(o.out ?? `${app}.env`)) };
    },
  },
  'env:push': {
    usage: 'env:push APP [FILE]',
    playbook: 'env-push',
    args: [1, 2],
    vars(args, _o, defs) {
      const app = knownApp(args[0], defs);
      return { app, src: path.resolve(args[1] ?? `${app}.env`) };
    },
  },
};

/** The verbs that read the definitions (each has verbOptions). */
export const DEFINITION_VERBS: readonly string[] = [...Object.keys(VERBS), 'app:releases'];

/** The options `flight VERB` takes, for its parser and its help. */
export function verbOptions(verb: string): readonly OptionSpec[] {
  if (verb === 'app:releases') return RELEASES_OPTIONS;
  return [...VERB_PLAY_OPTIONS, ...(VERBS[verb]?.options ?? [])];
}

const OTHER_VERBS = ['lab', 'server:add', 'server:remove', 'serve', 'token:create', 'token:revoke', 'app:releases', 'help'];

function unknownVerb(verb: string): never {
  const known = [...Object.keys(VERBS), ...OTHER_VERBS];
  const guess = known.find((k) => k.startsWith(verb) || (verb.includes(':') && k.endsWith(verb.slice(verb.indexOf(':')))));
  throw invalid(`unknown verb '${verb}'${guess ? `; did you mean '${guess}'?` : ''} (see flight --help)`);
}

function checkArgCount(verb: string, usage: string, args: string[], [min, max]: [number, number]): void {
  if (args.length < min) throw invalid(`missing arguments: flight ${usage}`);
  if (args.length > max) throw invalid(`flight ${verb}: unexpected argument '${args[max]}' (usage: flight ${usage})`);
}

/** Runs `flight ARGV...`; resolves to the exit code. */
export async function runFlight(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(HELP);
    return verb ? 0 : 5;
  }
  if (verb === '--version') {
    process.stdout.write(`flight ${VERSION}\n`);
    return 0;
  }
  // A command loads what it runs when it runs (the engine, ssh, the deploy server): help,
  // --version and a mistyped word answer without loading any of it.
  if (verb === 'lab') return (await import('./lab.js')).labCommand(rest);
  if (verb === 'server:add' || verb === 'server:remove') return (await import('./servers.js')).serverCommand(verb, rest);
  if (verb === 'serve') return (await import('./serve.js')).serveCommand(rest);
  if (verb === 'token:create' || verb === 'token:revoke') return (await import('./serve.js')).tokenCommand(verb, rest);
  const spec = VERBS[verb];
  if (!spec && verb !== 'app:releases') unknownVerb(verb);
  const usage = spec?.usage ?? 'app:releases APP';
  const o = parsePlayOptions(rest, verbOptions(verb), `flight ${verb}`, VERB_ELSEWHERE);
  if (o.help) {
    process.stdout.write(`Usage: flight ${usage} [options]\n\nOptions:\n${optionsHelp(verbOptions(verb))}\n`);
    return 0;
  }
  checkArgCount(verb, usage, o.positional, spec?.args ?? [1, 1]);
  const { defs, inventory } = await (await import('../engine/inventory.js')).loadFleet(o.defs, o.hostKeyPolicy);
  if (!spec) return (await import('./releases.js')).listReleases(knownApp(o.positional[0], defs), defs, inventory, o.output === 'json');
  const vars = spec.vars(o.positional, o.raw, defs);
  // Precedence: the flag, then flight.yml, then the default.
  return (await import('./play.js')).playCommand(spec.playbook, { ...o, forks: o.forks ?? defs.config.forks, extraVars: { ...o.extraVars, ...vars } }, inventory);
}
