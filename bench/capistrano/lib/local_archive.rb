# An SCM plugin that ships `git archive` of one commit from a local repository: built once on the
# control machine, uploaded to every server (in parallel) and extracted into the new release.
require "capistrano/scm/plugin"
require "tmpdir"

class LocalArchive < Capistrano::SCM::Plugin
  def set_defaults
    set_if_empty :archive_path, -> { File.join(Dir.tmpdir, "cap-bench-#{fetch(:release_timestamp)}-#{Process.pid}.tar.gz") }
  end

  def register_hooks
    after "deploy:new_release_path", "local_archive:create_release"
    before "deploy:set_current_revision", "local_archive:set_current_revision"
  end

  def define_tasks
    namespace :local_archive do
      desc "Archive the commit on the control machine"
      task :build do
        run_locally do
          execute :git, "-C", fetch(:repo_path), "archive", "--format=tar.gz", "-o", fetch(:archive_path), fetch(:revision_sha)
        end
      end

      desc "Upload the archive and extract it into the release"
      task create_release: :build do
        archive = fetch(:archive_path)
        remote = "#{fetch(:tmp_dir)}/#{File.basename(archive)}"
        on release_roles(:all) do
          execute :mkdir, "-p", release_path
          upload! archive, remote
          execute :tar, "-xzf", remote, "-C", release_path
          execute :rm, "-f", remote
        end
        File.delete(archive) if File.exist?(archive)
      end

      task :set_current_revision do
        set :current_revision, fetch(:revision_sha)
      end
    end
  end
end
