#!/bin/sh
# mmdebstrap customize hook: runs on the host after Debian's packages are in.
# $1: the image's root; $2: the staging folder where build.sh ran `npm ci` (node_modules/ with
# node-linux-<arch> and npm).
set -eu
root="$1"
stage="$2"

# Node 24: the platform package's bin/node and headers (node-gyp builds need them), laid out as
# Node's own installer does; npm and npx linked from /usr/local/lib/node_modules/npm.
arch="$(uname -m | sed -e s/x86_64/x64/ -e s/aarch64/arm64/)"
pkg="$stage/node_modules/node-linux-$arch"
[ -x "$pkg/bin/node" ] || { echo "customize.sh: no $pkg/bin/node (did npm ci install node-linux-$arch?)" >&2; exit 1; }
install -m 0755 "$pkg/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include"
cp -R "$pkg/include/node" "$root/usr/local/include/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -R "$stage/node_modules/npm" "$root/usr/local/lib/node_modules/npm"
chown -R 0:0 "$root/usr/local/include/node" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# Maven's launcher follows the /usr/bin/mvn → /etc/alternatives/mvn links with `ls -ld`, which
# fails under Debian's gVisor (runsc 20221219 answers coreutils' statx with EINVAL), and then
# cannot find Maven's home. Started from its real path, it follows no link.
printf '#!/bin/sh\nexec /usr/share/maven/bin/mvn "$@"\n' >"$root/usr/local/bin/mvn"
chmod 0755 "$root/usr/local/bin/mvn"

# The agent's user, /workspace and /bosun, as in bosun/agent-base (docker/agent-base/customize.sh).
chroot "$root" groupadd --gid 1000 agent
chroot "$root" useradd --uid 1000 --gid 1000 --home-dir /home/agent \
    --create-home --shell /bin/bash agent
install -d -o 1000 -g 1000 -m 0755 "$root/workspace"
install -d -o 1000 -g 1000 -m 0755 "$root/bosun"
printf '[safe]\n\tdirectory = /workspace\n' > "$root/etc/gitconfig"

# Logs and caches of the build itself are noise in the image.
rm -f "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log \
      "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
