/** The module registry: task keys resolve to these by name. */
import type { Module } from '../src/module-kit/contract.js';
import { copy } from './copy.js';
import { cron } from './cron.js';
import { file } from './file.js';
import { supervisor } from './supervisor.js';
import { symlink } from './symlink.js';
import { template } from './template.js';
import { apt } from './apt.js';
import { command } from './command.js';
import { fetch } from './fetch.js';
import { service_reload } from './service_reload.js';
import { shell } from './shell.js';
import { unarchive } from './unarchive.js';
import { user } from './user.js';
import { debug } from './debug.js';
import { deploy_lock } from './deploy_lock.js';
import { http_check } from './http_check.js';
import { joined_servers } from './joined_servers.js';
import { release_info } from './release_info.js';
import { fail } from './fail.js';
import { git_archive } from './git_archive.js';
import { release_prune } from './release_prune.js';
import { set_fact } from './set_fact.js';
import { shared_links } from './shared_links.js';
import { fpm_opcache } from './fpm_opcache.js';
import { queue_restart } from './queue_restart.js';
import { mariadb_database } from './mariadb_database.js';
import { env_file } from './env_file.js';
import { redis_users } from './redis_users.js';

export const modules: Record<string, Module<any>> = {
  copy,
  cron,
  file,
  supervisor,
  symlink,
  template,
  apt,
  command,
  fetch,
  service_reload,
  shell,
  unarchive,
  user,
  debug,
  deploy_lock,
  http_check,
  joined_servers,
  release_info,
  fail,
  git_archive,
  release_prune,
  set_fact,
  shared_links,
  fpm_opcache,
  queue_restart,
  mariadb_database,
  env_file,
  redis_users,
};
