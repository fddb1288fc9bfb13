/**
 * The `flight serve`, `flight token:create APP` and `flight token:revoke APP` verbs.
 */
import os from 'node:os';
import path from 'node:path';
import { loadDefinitions } from '../definitions/index.js';
import { parseArgs, port, seconds, type OptionSpec } from './args.js';
import { EXIT_CODES, invalid } from '../errors.js';
import { ADMIN } from '../serve/elastic-routes.js';
import { DeployServer } from '../serve/server.js';
import { hashToken, newToken, signalKey, TokenFile } from '../serve/tokens.js';

export const SERVE_HELP = `Usage: flight serve [--defs DIR] [--host 127.0.0.1] [--port 8080] [--data DIR]
                    [--tls-cert FILE --tls-key FILE] [--drain-timeout SECONDS]
       flight token:create APP [--signal] | --admin [--defs DIR] [--data DIR]
       flight token:revoke APP [--signal] | --admin [--defs DIR] [--data DIR]

The deploy server CI calls to release a commit (docs/serve.md):
  POST /apps/APP/deploys[?wait=1]   {"sha": "..."} with Authorization: Bearer TOKEN
  GET  /apps/APP/deploys[/ID[/log]] GET /healthz   POST /github
  POST /apps/APP/signals[?wait=1]   {"error_rate": 0.12} from monitoring, with the app's token or
                                    its --signal token: rolls the last release back when the rate
                                    passes the app's auto_rollback threshold (docs/serve.md)
  POST /clusters/C/servers, DELETE|GET /clusters/C/servers/NAME[/log]   with the --admin token
                                    add and remove servers (docs/elastic.md)

  --host ADDR            address to listen on (default 127.0.0.1: loopback only)
  --port N               default 8080 (0: any free port)
  --data DIR             deploy history, logs and tokens (default $FLIGHT_DATA or ~/.local/state/flight)
  --tls-cert/--tls-key   serve HTTPS with this certificate and key
  --drain-timeout S      on SIGTERM, wait at most S seconds for running deploys (default 900)
`;

export function defaultDataDir(): string {
  return process.env.FLIGHT_DATA || path.join(os.homedir(), '.local', 'state', 'flight');
}

const COMMON: readonly OptionSpec[] = [
  { name: 'defs', takes: 'value', arg: 'DIR', help: 'the definitions folder', check: 'local-path' },
  { name: 'data', takes: 'value', arg: 'DIR', help: 'deploy history, logs and tokens', check: 'local-path' },
  { name: 'help', short: 'h', takes: 'flag', help: 'this help' },
];

export const SERVE_OPTIONS: readonly OptionSpec[] = [
  ...COMMON,
  { name: 'host', takes: 'value', arg: 'ADDR', help: 'address to listen on (default 127.0.0.1)', check: 'ip' },
  { name: 'port', takes: 'value', arg: 'N', help: 'default 8080 (0: any free port)', check: port(0) },
  { name: 'tls-cert', takes: 'value', arg: 'FILE', help: 'serve HTTPS with this certificate', check: 'local-path' },
  { name: 'tls-key', takes: 'value', arg: 'FILE', help: 'and this key', check: 'local-path' },
  { name: 'drain-timeout', takes: 'value', arg: 'SECONDS', help: 'on SIGTERM, wait at most this long for running deploys (default 900)', check: seconds },
];

export const TOKEN_OPTIONS: readonly OptionSpec[] = [
  ...COMMON,
  { name: 'admin', takes: 'flag', help: 'the token for adding and removing servers' },
  { name: 'signal', takes: 'flag', help: "the app's token for monitoring's signals" },
];

function parse(argv: string[], specs: readonly OptionSpec[], where: string) {
  const { options: a, positional } = parseArgs(argv, specs, where);
  return {
    help: a.help === true,
    defs: path.resolve((a.defs as string | undefined) ?? process.env.FLIGHT_DEFS ?? process.cwd()),
    data: path.resolve((a.data as string | undefined) ?? defaultDataDir()),
    a: a as Record<string, string | boolean | undefined>,
    positional,
  };
}

export async function serveCommand(argv: string[]): Promise<number> {
  const { help, defs, data, a, positional } = parse(argv, SERVE_OPTIONS, 'flight serve');
  if (help) {
    process.stdout.write(SERVE_HELP);
    return 0;
  }
  if (positional.length) throw invalid(`flight serve takes no arguments, got '${positional[0]}'`);
  // Checked by SERVE_OPTIONS.
  const listenPort = Number(a.port ?? 8080);
  const drain = Number(a['drain-timeout'] ?? 900);
  if (!!a['tls-cert'] !== !!a['tls-key']) throw invalid('--tls-cert and --tls-key go together');
  const server = await DeployServer.start({
    defsDir: defs, dataDir: data, host: (a.host as string | undefined) ?? '127.0.0.1', port: listenPort, drainTimeoutMs: drain * 1000,
    tls: a['tls-cert'] ? { cert: path.resolve(a['tls-cert'] as string), key: path.resolve(a['tls-key'] as string) } : undefined,
  }).catch((err: unknown) => {
    throw invalid(`flight serve: ${(err as Error).message}`, err);
  });
  process.stdout.write(`flight serve: listening on ${server.url} (definitions ${defs}, data ${data})\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`flight serve: ${signal}: not taking requests; waiting up to ${drain} s for running deploys\n`);
      server.stop().then(
        (drained) => {
          process.stdout.write(`flight serve: stopped${drained ? '' : ' (running deploys were left interrupted)'}\n`);
          resolve(drained ? 0 : 1);
          // Deploys given up on still hold SSH connections that would keep the process alive.
          setTimeout(() => process.exit(drained ? 0 : 1), 200).unref();
        },
        (err: unknown) => {
          process.stderr.write(`flight serve: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      server.reload().then(
        () => process.stdout.write('flight serve: SIGHUP: definitions reloaded\n'),
        (err: unknown) => process.stderr.write(`flight serve: SIGHUP: reload failed, keeping the previous definitions: ${(err as Error).message}\n`),
      );
    });
  });
}

export async function tokenCommand(verb: 'token:create' | 'token:revoke', argv: string[]): Promise<number> {
  const { help, defs: defsDir, data, a, positional } = parse(argv, TOKEN_OPTIONS, `flight ${verb}`);
  if (help) {
    process.stdout.write(`Usage: flight ${verb} APP [--signal] | --admin [--defs DIR] [--data DIR]\n`);
    return 0;
  }
  // --admin: the token for adding and removing servers (docs/elastic.md); --signal: an app's
  // token for monitoring, which can report error rates but not deploy. Both are kept under
  // names no app can have.
  if (positional.length > 1) throw invalid(`flight ${verb}: unexpected argument '${positional[1]}'`);
  const name = positional[0];
  if (a.admin && (name !== undefined || a.signal)) throw invalid(`flight ${verb} --admin takes no app and no --signal`);
  if (!a.admin && name === undefined) throw invalid(`missing arguments: flight ${verb} APP [--signal] (or --admin)`);
  const defs = await loadDefinitions(defsDir);
  if (name !== undefined && !defs.apps.has(name)) throw invalid(`unknown app '${name}' in ${path.join(defs.dir, 'apps')} (apps: ${[...defs.apps.keys()].join(', ') || 'none'})`);
  const app = a.admin ? ADMIN : a.signal ? signalKey(name!) : name!;
  const what = a.admin ? 'the admin token' : a.signal ? `the signal token of ${name}` : `the deploy token of ${name}`;
  const file = TokenFile.in(data);
  const inFlightYml = defs.config.serve.tokens[app] !== undefined;
  if (verb === 'token:create') {
    const token = newToken();
    const replaced = file.read()[app] !== undefined;
    file.set(app, hashToken(token));
    // The token goes to stdout alone (for `TOKEN=$(flight token:create app)`); the rest to stderr.
    process.stdout.write(`${token}\n`);
    process.stderr.write(`${replaced ? 'replaced' : 'new:'} ${what}, stored only as its sha256 in ${file.file}; it is shown this once.\n`);
    if (inFlightYml) process.stderr.write(`note: flight.yml also has a token for ${app} (serve.tokens), which still works too.\n`);
    return 0;
  }
  const had = file.read()[app] !== undefined;
  if (had) file.set(app, undefined);
  process.stderr.write(had ? `revoked ${what} in ${file.file}\n` : `no such token (${what.slice(4)}) in ${file.file}\n`);
  if (inFlightYml) {
    // Not input that was wrong (5): the token still works, so the revocation did not do its job.
    process.stderr.write(`flight.yml still has a token for ${app} (serve.tokens.${app}), which still works: remove that line to revoke it.\n`);
    return EXIT_CODES.failed;
  }
  return 0;
}
