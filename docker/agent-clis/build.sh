#!/usr/bin/env bash
# Build bosun/agent-clis: the agent base image (docker/agent-base) plus the Codex and Claude Code
# CLIs at the versions package-lock.json pins. The packages are installed on the host with
# `npm ci` into a staging folder and copied into the image by a `docker build --network none`
# FROM the local base image. No container registry is involved; npm is the only download.
#
#   build.sh            build bosun/agent-clis:<recipe-hash> if missing; point :latest at it
#   build.sh --force    rebuild even if the image exists
#   build.sh --tag      print bosun/agent-clis:<recipe-hash> and exit
#
# The hash covers every file in this directory except README.md, docker/lib/, and the base image's own tag
# (so a new base means a new tag and a rebuild). Needs a running Docker daemon, npm, and the base
# image (docker/agent-base/build.sh). Environment: DOCKER (client binary, default `docker`),
# NPM (default `npm`).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHAT=agent-clis
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
NPM="${NPM:-npm}"
REPO=bosun/agent-clis

BASE="$(bash "$here/../agent-base/build.sh" --tag)" || die "could not work out the base image's tag"

HASH="$(recipe_hash "base $BASE")"
TAG="$REPO:$HASH"

recipe_args "$TAG" "$@"

[ "$force" = 1 ] || use_if_present "$TAG" "$REPO:latest"

[ -n "$(image_id "$BASE")" ] || die "the base image $BASE is missing: build it first (bash docker/agent-base/build.sh)"
command -v "$NPM" >/dev/null || die "npm is not installed"

work="$(mktemp -d /var/tmp/bosun-agent-clis.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log=/var/tmp/bosun-agent-clis.log
: >"$log"
start=$SECONDS

# The packages, exactly as locked. Install scripts stay off: Claude Code's postinstall only
# copies its platform binary over a placeholder, and the Dockerfile links the binary instead.
stage="$work/context/opt/bosun-clis"
mkdir -p "$stage"
cp "$here/package.json" "$here/package-lock.json" "$stage/"
say "building $TAG FROM $BASE: npm ci of $(sed -n 's/^ *"\(@[^"]*\)": "\([^"]*\)",\{0,1\}$/\1@\2/p' "$here/package.json" | xargs) (log: $log)"
if ! (cd "$stage" && "$NPM" ci --ignore-scripts --omit=dev --no-audit --no-fund --no-update-notifier) >>"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "npm ci of $here/package-lock.json failed (full log: $log)"
fi
rm -f "$stage/package-lock.json"
cp "$here/Dockerfile" "$work/context/"

# The legacy builder: it needs no buildx plugin, and FROM a local image never asks a registry.
if ! DOCKER_BUILDKIT=0 "$DOCKER" build --network none --build-arg "BASE=$BASE" \
        --label "io.bosun.recipe-hash=$HASH" --label "io.bosun.base=$BASE" \
        -t "$TAG" "$work/context" >>"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "docker build failed (full log: $log)"
fi

# Smoke test before :latest moves, under the sandbox's own constraints: user 1000, no network,
# a read-only root filesystem with tmpfs /tmp and home; under runc and (when registered) gVisor.
check='id -u | grep -qx 1000 && codex --version && claude --version && node --version'
runtimes="$(sandbox_runtimes)"
for rt in $runtimes; do
    if ! out="$("$DOCKER" run --rm --network none --runtime "$rt" --user 1000 --read-only \
            --tmpfs /tmp:rw,nosuid --tmpfs /home/agent:rw,nosuid,uid=1000,gid=1000 \
            "$TAG" sh -c "$check" 2>&1)"; then
        printf '%s\n' "$out" >&2
        "$DOCKER" rmi "$TAG" >/dev/null 2>&1 || true
        die "the new image does not pass its smoke test under runtime $rt"
    fi
    printf '%s: %s\n' "$rt" "$(printf '%s' "$out" | tr '\n' ' ')" >>"$log"
done
"$DOCKER" tag "$TAG" "$REPO:latest"
size="$("$DOCKER" image inspect --format '{{.Size}}' "$TAG")"
say "built $TAG (= $REPO:latest) in $((SECONDS - start))s, $((size / 1000000)) MB; checked under: $runtimes"
