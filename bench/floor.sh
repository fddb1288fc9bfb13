#!/usr/bin/env bash
# The floor for a release: only the work no release can avoid. The commit is archived once on the
# control machine, then each server gets one ssh (all in parallel) that extracts it into a new
# release folder and switches `current` to it (new link under a temp name, renamed over the old).
# No shared links, no composer, no release commands, no lock, no checks.
#
# With FLOOR_APP_STEPS=1 the same one ssh per server also runs the app's own release steps in the
# new folder before the switch, as root: `composer install` with Flight's default flags and the
# two artisan commands Flight and Capistrano run. That is the least any tool can do for this app,
# so Flight's time over it is Flight's own overhead. FLOOR_ARTISAN lists the artisan commands
# (default: "config:cache route:cache"; the Laravel release runs the four cache commands).
#
#   [FLOOR_APP_STEPS=1] floor.sh REPO SHA DEPLOY_TO KEY KNOWN_HOSTS HOST:PORT...
set -euo pipefail
repo=$1 sha=$2 to=$3 key=$4 known_hosts=$5
shift 5
id=$(date -u +%Y%m%d%H%M%S%N)
steps=
if [ "${FLOOR_APP_STEPS:-}" = 1 ]; then
  steps='cd $r; COMPOSER_ALLOW_SUPERUSER=1 composer install --prefer-dist --no-progress --no-interaction --no-dev --optimize-autoloader --quiet;'
  for c in ${FLOOR_ARTISAN:-config:cache route:cache}; do steps="$steps php8.2 artisan $c >/dev/null;"; done
fi
archive=$(mktemp --suffix=.tar.gz)
trap 'rm -f "$archive"' EXIT
git -C "$repo" archive --format=tar.gz -o "$archive" "$sha"
pids=()
for hostport in "$@"; do
  host=${hostport%:*} port=${hostport##*:}
  ssh -i "$key" -o IdentitiesOnly=yes -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -p "$port" "root@$host" \
    "set -e; r=$to/releases/$id; mkdir -p \$r; tar -xzf - -C \$r; $steps ln -sfn \$r $to/current.tmp; mv -T $to/current.tmp $to/current" \
    < "$archive" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
