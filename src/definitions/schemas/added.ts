/**
 * clusters/<cluster>.servers.yml: the servers `flight server:add` added to a cluster, with each
 * one's entry for the apps it joined. Flight writes this file; it is checked like every other
 * definition file, so a hand edit that breaks it is reported with its line and column.
 */
import { appServer } from './app.js';
import { server } from './cluster.js';
import { APP_NAME_PATTERN, serverName } from './common.js';

const { name: _name, ...entryProperties } = appServer.properties;
/** An added server serves apps; database and Redis servers are declared in the cluster's own file. */
const { database: _database, redis: _redis, ...serverProperties } = server.properties;

/** An app's settings for the added server, as for a server listed in the app's own file. */
export const appEntry = {
  type: 'object',
  additionalProperties: false,
  required: ['joined'],
  properties: {
    joined: { type: 'boolean', expected: 'true once the server holds the app\'s current release and receives its releases' },
    ...entryProperties,
  },
} as const;

export const addedServer = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'host', 'status', 'since'],
  properties: {
    ...serverProperties,
    /** The server whose app entries were copied (history only: it may be gone since). */
    like: serverName,
    status: { enum: ['joining', 'ready', 'failed'] },
    since: { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$', expected: 'a UTC time like 2026-01-31T12:00:00Z' },
    by: { type: 'string', pattern: '^[^\\u0000-\\u001f\\u007f]+$', expected: 'who ran it, as user@host' },
    pid: { type: 'integer', minimum: 1 },
    error: { type: 'string' },
    apps: {
      type: 'object',
      default: {},
      propertyNames: { type: 'string', pattern: APP_NAME_PATTERN, expected: 'an app name' },
      additionalProperties: appEntry,
    },
  },
} as const;

export const addedSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['servers'],
  properties: {
    servers: { type: 'array', items: addedServer },
  },
} as const;
