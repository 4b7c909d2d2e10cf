#!/usr/bin/env bash
# Build Bosun's agent base image from scratch: a Debian bookworm rootfs made by
# mmdebstrap from the host's own apt sources, imported with `docker import`.
# No container registry is involved.
#
#   build.sh            build bosun/agent-base:<recipe-hash> if missing; point :latest at it
#   build.sh --force    rebuild even if the image exists
#   build.sh --tag      print bosun/agent-base:<recipe-hash> and exit
#
# The tag's hash covers every file in this directory except README.md, and docker/lib/, so a
# changed recipe gives a new tag and a rebuild. Needs root (mmdebstrap) and a
# running Docker daemon. Environment: DOCKER (client binary, default `docker`),
# BOSUN_APT_SOURCES (a sources.list or .sources file to use instead of the host's).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHAT=agent-image
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
REPO=bosun/agent-base

HASH="$(recipe_hash)"
TAG="$REPO:$HASH"

recipe_args "$TAG" "$@"

[ "$force" = 1 ] || use_if_present "$TAG" "$REPO:latest"

need_builder "$TAG"

work="$(mktemp -d /var/tmp/bosun-agent-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The host's own Debian sources for $SUITE (docker/lib/host-apt-sources.py), so the image comes
# from the same mirror/snapshot the host uses.
sources="$work/host.sources"
host_sources "$sources"

include="$(sed -e 's/#.*//' "$here/packages" | xargs | tr ' ' ,)"
log=/var/tmp/bosun-agent-base.log
say "building $TAG (mmdebstrap $SUITE minbase + $include; log: $log)"
start=$SECONDS
build_rootfs "$work/rootfs.tar" "$sources" "$log" \
    --include="$include" \
    --customize-hook="sh $(printf %q "$here/customize.sh") \"\$1\""

"$DOCKER" import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /workspace' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/agent' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.opencontainers.image.title=bosun-agent-base io.bosun.recipe-hash=$HASH" \
    --change 'CMD ["/bin/bash"]' \
    --message "bosun agent base, recipe $HASH" \
    "$work/rootfs.tar" "$TAG" >/dev/null || die "docker import of the rootfs failed"

# Smoke test before :latest moves: non-root user, no network, every tool present,
# under runc and (when registered) gVisor.
check='id -u | grep -qx 1000 && git --version && node --version && python3 --version && socat -V | head -n 1'
runtimes="$(sandbox_runtimes)"
for rt in $runtimes; do
    if ! out="$("$DOCKER" run --rm --network none --runtime "$rt" --user 1000 "$TAG" sh -c "$check" 2>&1)"; then
        printf '%s\n' "$out" >&2
        "$DOCKER" rmi "$TAG" >/dev/null 2>&1 || true
        die "the new image does not pass its smoke test under runtime $rt"
    fi
done
"$DOCKER" tag "$TAG" "$REPO:latest"
size="$("$DOCKER" image inspect --format '{{.Size}}' "$TAG")"
say "built $TAG (= $REPO:latest) in $((SECONDS - start))s, $((size / 1000000)) MB; checked under: $runtimes"
