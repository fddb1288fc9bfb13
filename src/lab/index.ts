/** The lab's programmatic API: what tests, benchmarks and the CLI call. */
export { labUp, labDown, labStatus, labStop, labStart } from './lab.js';
export { labPaths, defaultLabDir, defaultCacheDir } from './paths.js';
export { FIRST_ADDRESS, serverName } from './addresses.js';
export type { LabOptions, LabUpOptions, LabDownOptions, LabServerInfo, LabUpResult } from './types.js';
