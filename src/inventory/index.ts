/** The inventory: hosts, groups, variables and host patterns, from definitions or a file. */
export { buildInventory, type BuildOptions } from './from-definitions.js';
export { loadInventoryFile, parseInventory, type InventoryFileOptions } from './file.js';
export { createInventory, LOCALHOST } from './inventory.js';
export { selectHostNames, parsePattern, globToRegExp, type PatternUniverse, type Term, type TermKind } from './patterns.js';
export { builtinSsh, mergeSsh } from './ssh.js';
export { hostVars, type DefinitionHostVars, type HostApp } from './host-vars.js';
export type { Host, Inventory, SshSettings, HostKeyPolicy } from './types.js';
