/** Definition files: loading, validation, and the typed result. */
export { loadDefinitions, checkDefinitions, listDefinitionFiles, type DefinitionSource, type CheckResult } from './load.js';
export { appNameProblem, RESERVED_USER_NAMES } from './names.js';
export { DEFAULT_COMPOSER_COMMAND, DEFAULT_WEB } from './schemas/app.js';
export type * from './types.js';
