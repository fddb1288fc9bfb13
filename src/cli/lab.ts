/** `flight lab up|down|status|stop|start`: the lab from the command line. */
import path from 'node:path';
import { parseArgs, port, wholeNumber, type OptionSpec } from './args.js';
import { exitCodeOf, invalid, messageOf } from '../errors.js';
import { labDown, labStart, labStatus, labStop, labUp } from '../lab/lab.js';
import { labPaths } from '../lab/paths.js';
import type { LabServerInfo } from '../lab/types.js';

const USAGE = `Usage:
  flight lab up [--servers N] [--defs DIR] [--dir STATE_DIR] [--first 127.0.0.2] [--port 22]
  flight lab down [--purge] [--dir STATE_DIR]
  flight lab status [--json] [--dir STATE_DIR]
  flight lab stop NAME [--dir STATE_DIR]
  flight lab start NAME [--dir STATE_DIR]

Local Debian servers, each with its own root filesystem and namespaces and a real sshd on
127.0.0.2, 127.0.0.3, ... (as root). State lives in --dir (default $FLIGHT_LAB_DIR or
/var/lib/flight-lab); \`up\` writes DIR/clusters/lab.yml (DIR defaults to the current folder).
`;

export const LAB_OPTIONS: readonly OptionSpec[] = [
  { name: 'servers', takes: 'value', arg: 'N', help: 'servers to start (default 3)', check: wholeNumber(1, 99) },
  { name: 'defs', takes: 'value', arg: 'DIR', help: 'where `up` writes clusters/lab.yml (default .)', check: 'local-path' },
  { name: 'dir', takes: 'value', arg: 'STATE_DIR', help: 'the lab\'s state (default $FLIGHT_LAB_DIR or /var/lib/flight-lab)', check: 'local-path' },
  { name: 'first', takes: 'value', arg: 'ADDRESS', help: 'the first server\'s address (default 127.0.0.2)', check: 'ip' },
  { name: 'port', takes: 'value', arg: 'PORT', help: 'the servers\' sshd port (default 22)', check: port(1) },
  { name: 'purge', takes: 'flag', help: '(down) remove the servers\' roots too' },
  { name: 'json', takes: 'flag', help: '(status) the servers as JSON' },
  { name: 'help', short: 'h', takes: 'flag', help: 'this help' },
];

function table(servers: LabServerInfo[]): string {
  const rows = [['NAME', 'ADDRESS', 'ROLE', 'PID', 'SSHD'], ...servers.map((s) => [
    s.name,
    s.port === 22 ? s.address : `${s.address}:${s.port}`,
    s.web ? 'web' : 'worker',
    s.pid ? String(s.pid) : '-',
    s.running ? (s.sshd ? 'answers' : 'silent') : 'stopped',
  ])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n';
}

function numberOpt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value === 'boolean' || !Number.isInteger(n)) throw invalid(`--${name} needs a whole number`);
  return n;
}

function stringOpt(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !value) throw invalid(`--${name} needs a value`);
  return value;
}

async function main(args: string[]): Promise<number> {
  const { options: argv, positional } = parseArgs(args, LAB_OPTIONS, 'flight lab');
  const [verb, ...rest] = positional;
  if (argv.help || !verb) {
    process.stdout.write(USAGE);
    return verb || argv.help ? 0 : 5;
  }
  const dir = stringOpt(argv.dir, 'dir');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const one = () => {
    if (rest.length !== 1) throw invalid(`flight lab ${verb} needs one server name, e.g. lab-1`);
    return rest[0]!;
  };
  if (verb !== 'stop' && verb !== 'start' && rest.length) throw invalid(`unexpected argument ${rest[0]}\n${USAGE}`);

  switch (verb) {
    case 'up': {
      const result = await labUp({
        dir,
        servers: numberOpt(argv.servers, 'servers'),
        first: stringOpt(argv.first, 'first'),
        port: numberOpt(argv.port, 'port'),
        defs: path.resolve(stringOpt(argv.defs, 'defs') ?? '.'),
        log,
      });
      const first = result.servers[0]!;
      const paths = labPaths(result.dir);
      process.stdout.write(table(result.servers));
      process.stdout.write(
        `\n${result.started.length ? `started ${result.started.join(', ')}` : 'all servers were already running'} in ${result.seconds.toFixed(1)} s\n` +
          `cluster file: ${result.clusterFile}\n\n` +
          `ssh in:  ssh -F ${result.sshConfig} ${first.name}\n` +
          `     or: ssh -i ${paths.key} -o UserKnownHostsFile=${paths.knownHosts} ${first.port === 22 ? '' : `-p ${first.port} `}root@${first.address}\n`,
      );
      return 0;
    }
    case 'down': {
      const { stopped } = await labDown({ dir, purge: argv.purge === true });
      process.stdout.write(`${stopped.length ? `stopped ${stopped.join(', ')}` : 'no server was running'}${argv.purge ? '; server roots removed' : ''}\n`);
      return 0;
    }
    case 'status': {
      const servers = await labStatus({ dir });
      if (argv.json) process.stdout.write(`${JSON.stringify(servers, null, 2)}\n`);
      else process.stdout.write(servers.length ? table(servers) : 'no lab servers: run `flight lab up`\n');
      return 0;
    }
    case 'stop': {
      const name = one();
      const { stopped } = await labStop(name, { dir });
      process.stdout.write(`${name} ${stopped ? 'stopped' : 'was not running'}\n`);
      return 0;
    }
    case 'start': {
      const server = await labStart(one(), { dir, log });
      process.stdout.write(table([server]));
      return 0;
    }
    default:
      throw invalid(`unknown lab command ${verb}\n${USAGE}`);
  }
}

export async function labCommand(args: string[]): Promise<number> {
  try {
    return await main(args);
  } catch (err) {
    const message = messageOf(err);
    process.stderr.write(`${message.startsWith('flight lab') ? '' : 'flight lab: '}${message}\n`);
    return exitCodeOf(err);
  }
}
