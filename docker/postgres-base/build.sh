#!/usr/bin/env bash
# Build a local Postgres image for hosts that reach Debian's mirrors but no container registry:
# Debian bookworm's postgresql-15 on a minbase rootfs made by mmdebstrap from the host's apt
# sources, with an entrypoint that keeps the official postgres image's contract (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, PGDATA on a volume, every address with password auth,
# pg_isready), so docker/compose.yml runs on it with POSTGRES_IMAGE=bosun/postgres:15.
#
#   build.sh            build bosun/postgres:15-<recipe-hash> if missing; tag it bosun/postgres:15
#   build.sh --force    rebuild even if the image exists
#   build.sh --tag      print bosun/postgres:15-<recipe-hash> and exit
#
# Needs root (mmdebstrap) and a running Docker daemon. Environment: DOCKER, BOSUN_APT_SOURCES.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHAT=pg-image
# shellcheck source=../lib/common.sh
. "$here/../lib/common.sh"
PG_MAJOR=15
NAME=bosun/postgres:$PG_MAJOR

HASH="$(recipe_hash "postgresql-$PG_MAJOR")"
TAG="$NAME-$HASH"

recipe_args "$TAG" "$@"
[ "$force" = 1 ] || use_if_present "$TAG" "$NAME"

need_builder "$TAG"
work="$(mktemp -d /var/tmp/bosun-postgres-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log=/var/tmp/bosun-postgres-base.log
: >"$log"
start=$SECONDS

say "building $TAG (mmdebstrap $SUITE minbase + postgresql-$PG_MAJOR; log: $log)"
host_sources "$work/host.sources"
# The official image's uid/gid for postgres (999), made before postgresql-common would pick one,
# so a data volume keeps its owner across both images (shadow's tools are not in yet).
build_rootfs "$work/rootfs.tar" "$work/host.sources" "$log" \
    --include="postgresql-$PG_MAJOR" \
    --essential-hook='echo postgres:x:999: >>"$1/etc/group" && echo postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/bash >>"$1/etc/passwd" && mkdir -p "$1/var/lib/postgresql" && chown 999:999 "$1/var/lib/postgresql"' \
    --customize-hook="sh $(printf %q "$here/customize.sh") \"\$1\" $PG_MAJOR $(printf %q "$here/docker-entrypoint.sh")"

"$DOCKER" import --message "bosun postgres $PG_MAJOR rootfs, recipe $HASH" "$work/rootfs.tar" "$TAG-rootfs" >/dev/null \
    || die "docker import of the rootfs failed"
# The image's settings, as the official image has them (docker import cannot set STOPSIGNAL).
cat >"$work/Dockerfile" <<DOCKERFILE
FROM $TAG-rootfs
ENV PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PG_MAJOR=$PG_MAJOR LANG=C.UTF-8 PGDATA=/var/lib/postgresql/data
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
LABEL org.opencontainers.image.title=bosun-postgres org.opencontainers.image.description="Debian's postgresql-$PG_MAJOR behind the official postgres image's entrypoint contract (Bosun's docker/postgres-base)" io.bosun.recipe-hash=$HASH
DOCKERFILE
if ! DOCKER_BUILDKIT=0 "$DOCKER" build --network none -t "$TAG" "$work" >>"$log" 2>&1; then
    tail -n 25 "$log" >&2
    "$DOCKER" rmi "$TAG-rootfs" >/dev/null 2>&1 || true
    die "docker build of the image's settings failed (full log: $log)"
fi
"$DOCKER" rmi "$TAG-rootfs" >/dev/null 2>&1 || true

# Smoke test before the name moves: a fresh data directory, a user, a password and a database
# as a compose file asks for them; ready by pg_isready; the password works over TCP.
name="bosun-pg-smoke-$$"
cleanup_smoke() { "$DOCKER" rm -f -v "$name" >/dev/null 2>&1 || true; }
fail_smoke() {
    "$DOCKER" logs "$name" 2>&1 | tail -n 25 >&2 || true
    cleanup_smoke
    "$DOCKER" rmi "$TAG" >/dev/null 2>&1 || true
    die "the new image does not pass its smoke test: $1"
}
"$DOCKER" run -d --name "$name" --network none -e POSTGRES_USER=smoke -e POSTGRES_PASSWORD=smoke-pw -e POSTGRES_DB=smokedb "$TAG" >/dev/null \
    || fail_smoke "it did not start"
for _ in $(seq 60); do
    "$DOCKER" exec "$name" pg_isready -q -U smoke -d smokedb >/dev/null 2>&1 && break
    sleep 0.5
done
"$DOCKER" exec "$name" pg_isready -q -U smoke -d smokedb || fail_smoke "pg_isready did not report ready within 30 s"
got="$("$DOCKER" exec -e PGPASSWORD=smoke-pw "$name" psql -X -q -t -A -h 127.0.0.1 -U smoke -d smokedb -c 'select current_user, current_database(), current_setting($$listen_addresses$$)' 2>&1)" \
    || fail_smoke "password login over TCP failed: $got"
[ "$got" = 'smoke|smokedb|*' ] || fail_smoke "unexpected answer: $got"
"$DOCKER" exec -e PGPASSWORD=wrong "$name" psql -X -q -h 127.0.0.1 -U smoke -d smokedb -c 'select 1' >/dev/null 2>&1 \
    && fail_smoke "a wrong password was accepted over TCP"
cleanup_smoke

"$DOCKER" tag "$TAG" "$NAME"
size="$("$DOCKER" image inspect --format '{{.Size}}' "$TAG")"
say "built $TAG (= $NAME) in $((SECONDS - start))s, $((size / 1000000)) MB"
