#!/usr/bin/env node
/**
 * `flight VERB ...`: short verbs over the built-in playbooks (each is exactly
 * `flight-play PLAYBOOK -e ...`), plus the lab. Arguments are checked against the definitions
 * before anything connects.
 */
import path from 'node:path';
import { loadDefinitions } from '../definitions/index.js';
import { invalid } from '../errors.js';
import { kindError } from '../kinds.js';
import { buildInventory } from '../inventory/index.js';
import { serverCommand } from '../cluster/cli.js';
import { labCommand } from '../lab/cli.js';
import { serveCommand, tokenCommand } from '../serve/cli.js';
import { VERSION } from '../version.js';
import { runMain } from './main.js';
import { parsePlayOptions, type PlayOptions } from './options.js';
import { playCommand } from './play.js';
import { listReleases } from './releases.js';

const HELP = `Usage: flight VERB [arguments] [options]

Servers and releases:
  provision CLUSTER          install packages, PHP, nginx, composer on every server of CLUSTER
  app:configure APP          PHP-FPM pool, nginx vhost, queue workers, scheduler for APP
  app:release APP SHA        release commit SHA of APP to its servers (zero downtime)
  app:rollback APP [--to ID] switch APP back to its previous release (or release ID)
  app:releases APP           list each server's releases, which is current, who made them
  env:pull APP [--out FILE]  download APP's .env (mode 0600; default ./APP.env)
  env:push APP [FILE]        upload FILE (default ./APP.env) as APP's .env on every server

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
  --force-unlock             (release, rollback) break a deploy lock left by a dead run

Every verb runs a built-in playbook: \`flight app:release shop 1a2b3c\` is
\`flight-play release -e app=shop -e sha=1a2b3c\`.
`;

interface Verb {
  usage: string;
  playbook: string;
  /** Turn the verb's words into extra vars, checking them against the definitions. */
  vars(args: string[], o: PlayOptions, defs: Awaited<ReturnType<typeof loadDefinitions>>): Record<string, unknown>;
}

function need(args: string[], n: number, usage: string): void {
  if (args.length < n) throw invalid(`missing arguments: flight ${usage}`);
}

function knownApp(name: string | undefined, defs: Awaited<ReturnType<typeof loadDefinitions>>): string {
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
    vars(args, _o, defs) {
      need(args, 1, this.usage);
      if (!defs.clusters.has(args[0]!)) {
        throw invalid(`unknown cluster '${args[0]}' in ${path.join(defs.dir, 'clusters')} (clusters: ${[...defs.clusters.keys()].join(', ') || 'none'})`);
      }
      return { cluster: args[0] };
    },
  },
  'app:configure': {
    usage: 'app:configure APP',
    playbook: 'configure',
    vars(args, _o, defs) {
      need(args, 1, this.usage);
      return { app: knownApp(args[0], defs) };
    },
  },
  'app:release': {
    usage: 'app:release APP SHA',
    playbook: 'release',
    vars(args, _o, defs) {
      need(args, 2, this.usage);
      const sha = args[1]!.toLowerCase();
      const bad = kindError('sha', sha, 'the sha');
      if (bad) throw invalid(bad);
      return { app: knownApp(args[0], defs), sha };
    },
  },
  'app:rollback': {
    usage: 'app:rollback APP [--to ID]',
    playbook: 'rollback',
    vars(args, o, defs) {
      need(args, 1, this.usage);
      const to = o.extraVars.to;
      if (to !== undefined && !/^[0-9A-Za-z-]+$/.test(String(to))) throw invalid(`--to: '${to}' is not a release id (see flight app:releases ${args[0]})`);
      return { app: knownApp(args[0], defs), ...(to !== undefined ? { to: String(to) } : {}) };
    },
  },
  'env:pull': {
    usage: 'env:pull APP [--out FILE]',
    playbook: 'env-pull',
    vars(args, o, defs) {
      need(args, 1, this.usage);
      const app = knownApp(args[0], defs);
      return { app, dest: path.resolve(String(o.extraVars.out ?? `${app}.env`)) };
    },
  },
  'env:push': {
    usage: 'env:push APP [FILE]',
    playbook: 'env-push',
    vars(args, _o, defs) {
      need(args, 1, this.usage);
      const app = knownApp(args[0], defs);
      return { app, src: path.resolve(args[1] ?? `${app}.env`) };
    },
  },
};

runMain(async () => {
  const [verb, ...rest] = process.argv.slice(2);
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(HELP);
    return verb ? 0 : 5;
  }
  if (verb === '--version') {
    process.stdout.write(`flight ${VERSION}\n`);
    return 0;
  }
  if (verb === 'lab') return labCommand(rest);
  if (verb === 'server:add' || verb === 'server:remove') return serverCommand(verb, rest);
  if (verb === 'serve') return serveCommand(rest);
  if (verb === 'token:create' || verb === 'token:revoke') return tokenCommand(verb, rest);
  const spec = VERBS[verb];
  if (!spec && verb !== 'app:releases') throw invalid(`unknown verb '${verb}' (see flight --help)`);
  // Verb-only flags (--out, --to, --force-unlock); everything else is a flight-play option.
  const take = (flag: string): string | undefined => {
    const at = rest.indexOf(flag);
    return at >= 0 ? (rest.splice(at, 2)[1] ?? '') : undefined;
  };
  const out = take('--out');
  const to = take('--to');
  const unlockAt = rest.indexOf('--force-unlock');
  if (unlockAt >= 0) rest.splice(unlockAt, 1);
  const o = parsePlayOptions(rest);
  if (o.help) {
    process.stdout.write(`Usage: flight ${verb === 'app:releases' ? 'app:releases APP' : spec?.usage}\n`);
    return 0;
  }
  const defs = await loadDefinitions(o.defs);
  if (verb === 'app:releases') return listReleases(knownApp(o.positional[0], defs), defs, buildInventory(defs), o.output === 'json');
  if (!spec) throw invalid(`unknown verb '${verb}' (see flight --help)`);
  if (out !== undefined) o.extraVars.out = out;
  if (to !== undefined) o.extraVars.to = to;
  const vars = spec.vars(o.positional, o, defs);
  delete o.extraVars.out;
  if (unlockAt >= 0) vars.force_unlock = true;
  return playCommand(spec.playbook, { ...o, extraVars: { ...o.extraVars, ...vars } }, buildInventory(defs));
});
