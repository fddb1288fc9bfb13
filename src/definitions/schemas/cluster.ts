/** clusters/<name>.yml: the environment apps run in, and its servers. */
import { kind } from '../../kinds.js';
import { phpVersion, serverName, ssh } from './common.js';

/**
 * A MariaDB server for the cluster's apps: `true`, or where it listens and whom it lets in. No
 * schema defaults inside anyOf (ajv cannot apply them there): toCluster fills them in.
 */
const database = {
  anyOf: [
    { type: 'boolean', expected: 'true or false' },
    {
      type: 'object',
      additionalProperties: false,
      expected: 'a mapping with bind, clients',
      properties: {
        bind: kind('address', 'the address MariaDB listens on and apps connect to: an IPv4 or IPv6 address, or a DNS name, without a port'),
        clients: { type: 'array', minItems: 1, uniqueItems: true, items: kind('db-client') },
      },
    },
  ],
} as const;

/**
 * A Redis server for the cluster's apps: `true`, or where it listens. Redis cannot tell clients
 * apart by address, so there is no `clients`: each app has its own user and password.
 */
const redis = {
  anyOf: [
    { type: 'boolean', expected: 'true or false' },
    {
      type: 'object',
      additionalProperties: false,
      expected: 'a mapping with bind',
      properties: {
        bind: kind('address', 'the address Redis listens on and apps connect to: an IPv4 or IPv6 address, or a DNS name, without a port'),
      },
    },
  ],
} as const;

/** One server entry; also the shape of a server added by `flight server:add` (schemas/added.ts). */
export const server = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'host'],
  properties: {
    name: serverName,
    host: kind('host'),
    web_server: { type: 'boolean', default: false },
    listen: kind('ip', 'the address nginx listens on (port 80): an IPv4 or IPv6 address, without a port'),
    database,
    redis,
    ssh,
  },
} as const;

export const clusterSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['php', 'servers'],
  properties: {
    php: { type: 'array', minItems: 1, uniqueItems: true, items: phpVersion },
    request_duration: { type: 'integer', minimum: 1, default: 30, expected: 'integer >= 1 (seconds)' },
    request_payload: { type: 'integer', minimum: 1, default: 10, expected: 'integer >= 1 (MB)' },
    request_memory: { type: 'integer', minimum: 1, default: 256, expected: 'integer >= 1 (MB)' },
    php_repository: { enum: ['sury'] },
    servers: { type: 'array', minItems: 1, items: server },
  },
} as const;
