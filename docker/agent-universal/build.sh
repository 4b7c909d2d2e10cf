#!/usr/bin/env bash
# Build bosun/agent-universal: one image with the common toolchains, for repositories that bring
# no image of their own (an org makes it their default with `sandbox.default_image`). From
# scratch like the base image: a Debian bookworm rootfs made by mmdebstrap from the host's own apt
# sources with the toolchains in `packages`, Node 24 and npm from the npm registry (Debian's
# nodejs is 18), imported with `docker import`. No container registry is involved.
#
#   build.sh            build bosun/agent-universal:<recipe-hash> if missing; point :latest at it
#   build.sh --force    rebuild even if the image exists
#   build.sh --tag      print bosun/agent-universal:<recipe-hash> and exit
#
# Node and npm: `npm ci --ignore-scripts` of package-lock.json on the host into a staging folder
# (npm checks each tarball against the lock file's integrity; of the two node-linux-<arch>
# packages only this machine's comes down), copied into the image by customize.sh.
# The tag's hash covers every file in this directory except README.md, and docker/lib/. Needs
# root (mmdebstrap), npm and a running Docker daemon. Environment: DOCKER, NPM,
# BOSUN_APT_SOURCES (a sources.list or .sources file to use instead of the host's).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHAT=universal
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
NPM="${NPM:-npm}"
REPO=bosun/agent-universal

HASH="$(recipe_hash)"
TAG="$REPO:$HASH"

recipe_args "$TAG" "$@"

[ "$force" = 1 ] || use_if_present "$TAG" "$REPO:latest"

need_builder "$TAG"
command -v "$NPM" >/dev/null || die "npm is not installed (it downloads Node 24 and npm from the npm registry)"

work="$(mktemp -d /var/tmp/bosun-agent-universal.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log=/var/tmp/bosun-agent-universal.log
: >"$log"
start=$SECONDS

include="$(sed -e 's/#.*//' "$here/packages" | xargs | tr ' ' ,)"
say "building $TAG (mmdebstrap $SUITE minbase + $include; Node and npm from package-lock.json; log: $log)"

# Node and npm, exactly as locked, while nothing else needs the network.
stage="$work/node"
mkdir -p "$stage"
cp "$here/package.json" "$here/package-lock.json" "$stage/"
if ! (cd "$stage" && "$NPM" ci --ignore-scripts --no-audit --no-fund --no-update-notifier) >>"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "npm ci of $here/package-lock.json failed (full log: $log)"
fi

host_sources "$work/host.sources"
# The JDK's maintainer scripts link its man pages into /usr/share/man/man1, which dpkg.cfg keeps
# empty and so dpkg never makes: without the folder they fail.
build_rootfs "$work/rootfs.tar" "$work/host.sources" "$log.mmdebstrap" \
    --include="$include" \
    --setup-hook='mkdir -p "$1/usr/share/man/man1"' \
    --dpkgopt=force-unsafe-io \
    --customize-hook="sh $(printf %q "$here/customize.sh") \"\$1\" $(printf %q "$stage")"
rm -rf "$stage"
say "rootfs ready after $((SECONDS - start))s ($(( $(stat -c %s "$work/rootfs.tar") / 1000000 )) MB); importing"

"$DOCKER" import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /workspace' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV HOME=/home/agent' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV JAVA_HOME=/usr/lib/jvm/default-java' \
    --change 'ENV GOTOOLCHAIN=local' \
    --change 'ENV PIP_DISABLE_PIP_VERSION_CHECK=1' \
    --change 'ENV npm_config_update_notifier=false' \
    --change "LABEL org.opencontainers.image.title=bosun-agent-universal io.bosun.recipe-hash=$HASH" \
    --change 'CMD ["/bin/bash"]' \
    --message "bosun agent universal, recipe $HASH" \
    "$work/rootfs.tar" "$TAG" >/dev/null || die "docker import of the rootfs failed"
rm -f "$work/rootfs.tar"

# Smoke test before :latest moves, under the sandbox's own constraints: user 1000, no network, a
# read-only root filesystem with tmpfs /tmp and home; under runc and (when registered) gVisor.
runtimes="$(sandbox_runtimes)"
for rt in $runtimes; do
    t0=$SECONDS
    if ! out="$("$DOCKER" run --rm --network none --runtime "$rt" --user 1000 --read-only \
            --tmpfs /tmp:rw,nosuid,exec --tmpfs /home/agent:rw,nosuid,exec,uid=1000,gid=1000 \
            "$TAG" sh -c "$(cat "$here/smoke-test.sh")" 2>&1)"; then
        printf '%s\n' "$out" >&2
        "$DOCKER" rmi "$TAG" >/dev/null 2>&1 || true
        die "the new image does not pass its smoke test under runtime $rt"
    fi
    printf '== smoke test under %s (%ss)\n%s\n' "$rt" "$((SECONDS - t0))" "$out" >>"$log"
done
"$DOCKER" tag "$TAG" "$REPO:latest"
size="$("$DOCKER" image inspect --format '{{.Size}}' "$TAG")"
say "built $TAG (= $REPO:latest) in $((SECONDS - start))s, $((size / 1000000)) MB; checked under: $runtimes (versions: $log)"
