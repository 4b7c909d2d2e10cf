#!/usr/bin/env bash
# Build a local stand-in for the official node:24-bookworm-slim image, for hosts that reach
# Debian's mirrors and the npm registry but no container registry: a Debian bookworm minbase
# rootfs made by mmdebstrap from the host's apt sources, Node from the npm registry's
# node-linux-<arch> package (the version package-lock.json pins for the `node` package), npm
# from the `npm` package, user node (1000:1000, home /home/node), imported with `docker import`.
# docker/Dockerfile builds FROM it unchanged.
#
#   build.sh            build node:24-bookworm-slim-bosun-<recipe-hash> if missing; tag it node:24-bookworm-slim
#   build.sh --force    rebuild even if the image exists
#   build.sh --tag      print node:24-bookworm-slim-bosun-<recipe-hash> and exit
#
# A node:24-bookworm-slim that is not ours (pulled from a registry) is left alone and used,
# even with --force.
# Needs root (mmdebstrap), npm and a running Docker daemon. Environment: DOCKER, NPM,
# BOSUN_APT_SOURCES (sources to use instead of the host's), BOSUN_EXTRA_CA_CERTS (PEM file of
# extra certificate authorities, default: the host's /usr/local/share/ca-certificates/*.crt;
# `none` for none).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHAT=node-image
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
NPM="${NPM:-npm}"
NAME=node:24-bookworm-slim
# npm as Node 24 bundles it (the official image keeps the bundled one).
NPM_VERSION=11.21.2

lock="$here/../../package-lock.json"
NODE_VERSION="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/node"]["version"])' "$lock" 2>/dev/null)" \
    || die "cannot read the \`node\` package's version from $lock"
case "$NODE_VERSION" in 24.*) ;; *) die "$lock pins node $NODE_VERSION, not 24.x: this recipe builds $NAME" ;; esac
case "$(uname -m)" in
    x86_64) ARCH=x64 ;;
    aarch64) ARCH=arm64 ;;
    *) die "no node-linux package for $(uname -m)" ;;
esac

# Extra certificate authorities: a host behind a TLS-inspecting proxy needs them for npm inside
# `docker build`; the image trusts them through NODE_EXTRA_CA_CERTS (and ca-certificates, when
# an image on top installs it). The official image has none.
extra_ca=""
case "${BOSUN_EXTRA_CA_CERTS:-}" in
    none) ;;
    "") extra_ca="$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)" ;;
    *) extra_ca="$(cat "$BOSUN_EXTRA_CA_CERTS")" || die "cannot read BOSUN_EXTRA_CA_CERTS=$BOSUN_EXTRA_CA_CERTS" ;;
esac

HASH="$(recipe_hash "node $NODE_VERSION $ARCH" "npm $NPM_VERSION" "$extra_ca")"
TAG="$NAME-bosun-$HASH"

recipe_args "$TAG" "$@"

ours="$("$DOCKER" image inspect --format '{{index .Config.Labels "io.bosun.recipe-hash"}}' "$NAME" 2>/dev/null || true)"
if [ -n "$(image_id "$NAME")" ] && [ -z "$ours" ]; then
    say "$NAME present and not built here (a registry's?): using it as it is (docker rmi $NAME first to build the local one)"
    exit 0
fi
[ "$force" = 1 ] || use_if_present "$TAG" "$NAME"

need_builder "$TAG"
command -v "$NPM" >/dev/null || die "npm is not installed (it downloads node-linux-$ARCH and npm from the npm registry)"

work="$(mktemp -d /var/tmp/bosun-node-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log=/var/tmp/bosun-node-base.log
: >"$log"
start=$SECONDS

say "building $TAG (mmdebstrap $SUITE minbase, node-linux-$ARCH@$NODE_VERSION, npm@$NPM_VERSION; log: $log)"
if ! (cd "$work" && "$NPM" pack --silent "node-linux-$ARCH@$NODE_VERSION" "npm@$NPM_VERSION") >>"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "npm pack of node-linux-$ARCH@$NODE_VERSION and npm@$NPM_VERSION failed (full log: $log)"
fi
printf '%s\n' "$extra_ca" >"$work/extra-ca.crt"
[ -n "$extra_ca" ] || : >"$work/extra-ca.crt"

host_sources "$work/host.sources"
build_rootfs "$work/rootfs.tar" "$work/host.sources" "$log.mmdebstrap" \
    --customize-hook="sh $(printf %q "$here/customize.sh") \"\$1\" $(printf %q "$work/node-linux-$ARCH-$NODE_VERSION.tgz") $(printf %q "$work/npm-$NPM_VERSION.tgz") $(printf %q "$work/extra-ca.crt") $(printf %q "$here/docker-entrypoint.sh")"

ca_env=()
[ -s "$work/extra-ca.crt" ] && ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/bosun/extra-ca.pem')
"$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$NODE_VERSION" \
    "${ca_env[@]}" \
    --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
    --change 'CMD ["node"]' \
    --change "LABEL org.opencontainers.image.title=node-24-bookworm-slim-local org.opencontainers.image.description=\"Local stand-in for node:24-bookworm-slim, built by Bosun's docker/node-base\" io.bosun.recipe-hash=$HASH" \
    --message "local node:24-bookworm-slim, recipe $HASH" \
    "$work/rootfs.tar" "$TAG" >/dev/null || die "docker import of the rootfs failed"

# Smoke test before the name moves: Node and npm run, user node is 1000:1000 with its home,
# and the entrypoint hands a flag to node as the official one does.
check="test \"\$(node --version)\" = v$NODE_VERSION && test \"\$(npm --version)\" = $NPM_VERSION && test \"\$(id -u node):\$(id -g node)\" = 1000:1000 && test -d /home/node && test \"\$(stat -c %u /home/node)\" = 1000"
if ! out="$("$DOCKER" run --rm --network none --entrypoint sh "$TAG" -c "$check" 2>&1)" \
        || ! out="$("$DOCKER" run --rm --network none --user node "$TAG" -e 'process.stdout.write(String(process.getuid()))' 2>&1)" \
        || [ "$out" != 1000 ]; then
    printf '%s\n' "$out" >&2
    "$DOCKER" rmi "$TAG" >/dev/null 2>&1 || true
    die "the new image does not pass its smoke test"
fi
"$DOCKER" tag "$TAG" "$NAME"
size="$("$DOCKER" image inspect --format '{{.Size}}' "$TAG")"
say "built $TAG (= $NAME) in $((SECONDS - start))s, $((size / 1000000)) MB"
