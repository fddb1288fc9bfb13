/**
 * Where Flight keeps an app's files on a server, declared once: the TypeScript reads it from here,
 * the playbooks from the app's host vars (`apps.APP.layout`, e.g. `{{ application.layout.lock }}`).
 *
 *   /home/APP/releases/ID       one folder per release (or A and B with release_strategy alternate)
 *   /home/APP/current           the link to the release being served
 *   /home/APP/shared/           what outlives releases (the .env, storage/...)
 *   /home/APP/.flight/          Flight's own records: the deploy lock, the release log, the
 *                               servers that joined the app (flight server:add)
 */
export interface AppLayout {
  home: string;
  releases: string;
  current: string;
  shared: string;
  /** Flight's own folder. */
  state: string;
  /** The deploy lock (a directory, made atomically): one release or rollback at a time. */
  lock: string;
  /** Servers `flight server:add` joined to the app, and those leaving. */
  servers: string;
  /** One line per release and rollback: when, who, which commit, the outcome. */
  releases_log: string;
}

export function appLayout(home: string): AppLayout {
  const state = `${home}/.flight`;
  return {
    home,
    releases: `${home}/releases`,
    current: `${home}/current`,
    shared: `${home}/shared`,
    state,
    lock: `${state}/deploy.lock`,
    servers: `${state}/servers`,
    releases_log: `${state}/releases.log`,
  };
}
