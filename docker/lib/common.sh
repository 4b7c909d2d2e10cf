# Shared by the image recipes under docker/ (sourced, not run). The caller sets: here (its
# recipe folder) and WHAT (the name in messages), then uses recipe_hash, recipe_args,
# use_if_present and, for a Debian rootfs, need_builder, host_sources and build_rootfs.
lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKER="${DOCKER:-docker}"
SUITE=bookworm

say() { printf 'setup: %-11s %s\n' "$WHAT" "$*"; }
die() { printf 'setup: %-11s FAILED: %s\n' "$WHAT" "$*" >&2; exit 1; }

image_id() { "$DOCKER" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

# A short sha256 of every file of the recipe folder except README.md, of this folder's files,
# and of any further text given as arguments (versions, certificates): a changed recipe means
# a new tag and a rebuild.
recipe_hash() {
    local f d
    {
        for d in "$here" "$lib"; do
            for f in $(cd "$d" && LC_ALL=C ls -A | LC_ALL=C sort); do
                [ "$f" = README.md ] && continue
                [ -f "$d/$f" ] || continue
                printf '== %s/%s\n' "$(basename "$d")" "$f"
                cat "$d/$f"
            done
        done
        printf '== extra\n%s\n' "$*"
    } | sha256sum | cut -c1-12
}

# recipe_args TAG "$@": `--tag` prints TAG and exits, `--force` sets force=1 (rebuild even if
# the image exists), nothing else is accepted.
recipe_args() {
    local tag="$1"
    shift
    force=0
    case "${1:-}" in
        --tag) echo "$tag"; exit 0 ;;
        --force) force=1 ;;
        "") ;;
        *) die "unknown argument '$1' (use --tag or --force)" ;;
    esac
}

# The runtimes a new image's smoke test runs under: runc, and gVisor's runsc when registered.
sandbox_runtimes() {
    if [[ "$("$DOCKER" info --format '{{json .Runtimes}}' 2>/dev/null)" == *'"runsc"'* ]]; then
        echo "runc runsc"
    else
        echo "runc"
    fi
}

# Exits 0 when $1 (the hash tag) exists: points $2 (the name users and compose files use) at it.
use_if_present() {
    local tag="$1" name="$2"
    [ -n "$(image_id "$tag")" ] || return 0
    if [ "$(image_id "$tag")" != "$(image_id "$name")" ]; then
        "$DOCKER" tag "$tag" "$name"
        say "$tag present; tagged it $name"
    else
        say "$tag present (= $name)"
    fi
    exit 0
}

need_builder() {
    [ "$(id -u)" = 0 ] || die "building $1 needs root (mmdebstrap); run: sudo bash $here/build.sh"
    command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
}

# Writes the host's Debian sources for $SUITE to $1, or uses BOSUN_APT_SOURCES.
host_sources() {
    if [ -n "${BOSUN_APT_SOURCES:-}" ]; then
        cp "$BOSUN_APT_SOURCES" "$1" || die "cannot read BOSUN_APT_SOURCES=$BOSUN_APT_SOURCES"
    else
        /usr/bin/python3 "$lib/host-apt-sources.py" "$SUITE" >"$1" || die "could not read the host's apt sources"
    fi
    [ -s "$1" ] || die "no apt sources for $SUITE found on this host (set BOSUN_APT_SOURCES=/path/to/sources)"
}

# build_rootfs OUT.tar SOURCES LOG [mmdebstrap options...]: a minbase rootfs of $SUITE with the
# recipe's dpkg.cfg, as a tarball.
build_rootfs() {
    local out="$1" sources="$2" log="$3"
    shift 3
    if ! mmdebstrap --variant=minbase --format=tar --quiet --dpkgopt="$here/dpkg.cfg" \
            "$@" "$SUITE" "$out" "$sources" >"$log" 2>&1; then
        tail -n 25 "$log" >&2
        die "mmdebstrap could not build the rootfs (full log: $log)"
    fi
}
