#!/usr/bin/env bash
# The floor for a release: only the work no release can avoid. The commit is archived once on the
# control machine, then each server gets one ssh (all in parallel) that extracts it into a new
# release folder and switches `current` to it (new link under a temp name, renamed over the old).
# No shared links, no composer, no release commands, no lock, no checks.
#
#   floor.sh REPO SHA DEPLOY_TO KEY KNOWN_HOSTS HOST:PORT...
set -euo pipefail
repo=$1 sha=$2 to=$3 key=$4 known_hosts=$5
shift 5
id=$(date -u +%Y%m%d%H%M%S%N)
archive=$(mktemp --suffix=.tar.gz)
trap 'rm -f "$archive"' EXIT
git -C "$repo" archive --format=tar.gz -o "$archive" "$sha"
pids=()
for hostport in "$@"; do
  host=${hostport%:*} port=${hostport##*:}
  ssh -i "$key" -o IdentitiesOnly=yes -o UserKnownHostsFile="$known_hosts" -o StrictHostKeyChecking=yes \
    -o BatchMode=yes -p "$port" "root@$host" \
    "set -e; r=$to/releases/$id; mkdir -p \$r; tar -xzf - -C \$r; ln -sfn \$r $to/current.tmp; mv -T $to/current.tmp $to/current" \
    < "$archive" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
