/** The module registry: task keys resolve to these by name. */
import type { Module } from '../src/module.js';
import { copy } from './copy.js';
import { cron } from './cron.js';
import { file } from './file.js';
import { supervisor } from './supervisor.js';
import { symlink } from './symlink.js';
import { template } from './template.js';

export const modules: Record<string, Module<any>> = {
  copy,
  cron,
  file,
  supervisor,
  symlink,
  template,
};
