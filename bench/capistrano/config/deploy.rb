# The fixture app, deployed the Capistrano way. Every value that differs per bench run comes from
# the environment the bench sets.
lock "~> 3.17"

set :application, "bench"
set :deploy_to, ENV.fetch("BENCH_DEPLOY_TO")
set :repo_path, ENV.fetch("BENCH_REPO")
set :revision_sha, ENV.fetch("BENCH_SHA")
set :keep_releases, 5
set :pty, false

# The same shared paths as Flight's app definition: created once in shared/, linked into each release.
set :linked_files, %w[.env]
set :linked_dirs, ENV.fetch("BENCH_LINKED_DIRS", "storage/app/public storage/framework/cache storage/framework/sessions storage/logs").split

# Logs go to the bench's own folder, not into the checkout.
set :format_options, log_file: ENV.fetch("BENCH_CAP_LOG", "/dev/null")

set :ssh_options, {
  keys: [ENV.fetch("BENCH_KEY")],
  keys_only: true,
  auth_methods: %w[publickey],
  user_known_hosts_file: ENV.fetch("BENCH_KNOWN_HOSTS"),
  verify_host_key: :always,
}

namespace :bench do
  desc "composer install in the new release (the same flags as Flight's default composer_command)"
  task :composer do
    on release_roles(:all) do
      within release_path do
        execute :composer, "install", "--prefer-dist", "--no-progress", "--no-interaction", "--no-dev", "--optimize-autoloader", "--quiet"
      end
    end
  end

  desc "The app's release commands, in the new release (BENCH_ARTISAN, as Flight's release_commands)"
  task :release_commands do
    on release_roles(:all) do
      within release_path do
        ENV.fetch("BENCH_ARTISAN", "config:cache route:cache").split.each { |c| execute :php, "artisan", c }
      end
    end
  end
end

after "deploy:updated", "bench:composer"
after "bench:composer", "bench:release_commands"
