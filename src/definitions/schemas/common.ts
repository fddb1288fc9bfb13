/** Schema pieces shared by flight.yml, cluster and app files. */
import { kind } from '../../kinds.js';

export { APP_NAME_PATTERN, CLUSTER_NAME_PATTERN } from '../../kinds.js';

/** Becomes a host name in the inventory and in host patterns, so no '_' or ':' (pattern syntax). */
export const serverName = kind('server-name');

/** Strings, because YAML reads 8.10 as the number 8.1. */
export const phpVersion = kind('php-version');

/** Commands run in a release (`sh -c` as the app user): one line each. */
export const commandList = {
  type: 'array',
  items: kind('command-line'),
  default: [],
} as const;

export const jump = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  expected: 'a mapping with host, port, user, key',
  properties: {
    host: kind('host'),
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    user: kind('user-name'),
    key: kind('local-path', 'the path of a private key file'),
  },
} as const;

/**
 * SSH connection settings: the defaults in flight.yml, overridden per server. No defaults here:
 * the inventory merges the layers, and a default at this level would hide the outer one.
 */
export const ssh = {
  type: 'object',
  additionalProperties: false,
  properties: {
    user: kind('user-name'),
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    key: kind('local-path', 'the path of a private key file'),
    known_hosts: kind('local-path', 'the path of a known_hosts file'),
    host_key_policy: { enum: ['strict', 'accept-new', 'off'] },
    /** `false` cancels, for one server, a jump host set in flight.yml. */
    jump: { anyOf: [{ const: false, expected: 'false (no jump host)' }, jump] },
    connect_timeout: { type: 'number', exclusiveMinimum: 0, expected: 'a number of seconds > 0' },
  },
} as const;
