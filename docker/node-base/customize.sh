#!/bin/sh
# mmdebstrap customize hook: runs on the host after Debian's packages are in.
# $1: the image's root; $2: node-linux-<arch>.tgz; $3: npm.tgz; $4: extra CA certificates
# (PEM, maybe empty); $5: docker-entrypoint.sh. The layout follows the official node image.
set -eu
root="$1"

# Node: the platform package's bin/node and headers (node-gyp builds need them).
tmp="$root/tmp/node-pkg"
mkdir -p "$tmp"
tar -xzf "$2" -C "$tmp"
install -m 0755 "$tmp/package/bin/node" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/include"
cp -a "$tmp/package/include/node" "$root/usr/local/include/node"
rm -rf "$tmp"

# npm and npx, linked as Node's own installer does.
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$3" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

# The user Node apps run as.
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# Extra certificate authorities: one bundle for NODE_EXTRA_CA_CERTS, and one file per
# certificate where Debian's ca-certificates looks for local ones.
if [ -s "$4" ]; then
    install -D -m 0644 "$4" "$root/usr/local/share/bosun/extra-ca.pem"
    mkdir -p "$root/usr/local/share/ca-certificates"
    awk -v dir="$root/usr/local/share/ca-certificates" '
        /-----BEGIN CERTIFICATE-----/ { n++; f = sprintf("%s/bosun-extra-ca-%d.crt", dir, n) }
        f { print > f }
        /-----END CERTIFICATE-----/ { close(f); f = "" }' "$4"
fi
install -m 0755 "$5" "$root/usr/local/bin/docker-entrypoint.sh"

rm -f "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log \
      "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old
rm -rf "$root"/var/lib/apt/lists/*
