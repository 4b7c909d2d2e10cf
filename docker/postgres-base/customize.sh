#!/bin/sh
# mmdebstrap customize hook: runs on the host after Debian's packages are in.
# $1: the image's root; $2: the PostgreSQL major version; $3: docker-entrypoint.sh.
set -eu
root="$1"

# postgresql-common made a cluster "main" as Debian does on a server; the container's data
# directory is made by the entrypoint on its volume instead.
rm -rf "$root/etc/postgresql/$2/main" "$root/var/lib/postgresql/$2"
install -d -o 999 -g 999 -m 0700 "$root/var/lib/postgresql/data"
install -d -o 999 -g 999 -m 3777 "$root/var/run/postgresql"
install -d -m 0755 "$root/docker-entrypoint-initdb.d"
install -m 0755 "$3" "$root/usr/local/bin/docker-entrypoint.sh"

rm -f "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log \
      "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old
rm -rf "$root"/var/lib/apt/lists/*
