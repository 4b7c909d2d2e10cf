#!/usr/bin/env bash
# Build Bosun's agent base image from scratch: a Debian bookworm rootfs made by
# mmdebstrap from the host's own apt sources, imported with `docker import`.
# No container registry is involved.
#
#   build.sh            build bosun/agent-base:<recipe-hash> if missing; point :latest at it
#   build.sh --force    rebuild even if the image exists
#   build.sh --tag      print bosun/agent-base:<recipe-hash> and exit
#
# The tag's hash covers every file in this directory except README.md, so a
# changed recipe gives a new tag and a rebuild. Needs root (mmdebstrap) and a
# running Docker daemon. Environment: DOCKER (client binary, default `docker`),
# BOSUN_APT_SOURCES (a sources.list or .sources file to use instead of the host's).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DOCKER="${DOCKER:-docker}"
REPO=bosun/agent-base
SUITE=bookworm

say() { printf 'setup: %-11s %s\n' agent-image "$*"; }
die() { printf 'setup: %-11s FAILED: %s\n' agent-image "$*" >&2; exit 1; }

recipe_hash() {
    local f
    (
        cd "$here"
        for f in $(LC_ALL=C ls -A | LC_ALL=C sort); do
            [ "$f" = README.md ] && continue
            [ -f "$f" ] || continue
            printf '== %s\n' "$f"
            cat "$f"
        done
    ) | sha256sum | cut -c1-12
}

HASH="$(recipe_hash)"
TAG="$REPO:$HASH"

force=0
case "${1:-}" in
    --tag) echo "$TAG"; exit 0 ;;
    --force) force=1 ;;
    "") ;;
    *) die "unknown argument '$1' (use --tag or --force)" ;;
esac

image_id() { "$DOCKER" image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }

if [ "$force" = 0 ] && [ -n "$(image_id "$TAG")" ]; then
    if [ "$(image_id "$TAG")" != "$(image_id "$REPO:latest")" ]; then
        "$DOCKER" tag "$TAG" "$REPO:latest"
        say "$TAG present; tagged it $REPO:latest"
    else
        say "$TAG present (= $REPO:latest)"
    fi
    exit 0
fi

[ "$(id -u)" = 0 ] || die "building $TAG needs root (mmdebstrap); run: sudo bash $here/build.sh"
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"

work="$(mktemp -d /var/tmp/bosun-agent-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# The host's own Debian sources for $SUITE (deb822 .sources and one-line .list
# files), so the image comes from the same mirror/snapshot the host uses.
# Third-party repositories (other suites) are left out.
sources="$work/host.sources"
if [ -n "${BOSUN_APT_SOURCES:-}" ]; then
    sources="$BOSUN_APT_SOURCES"
else
    /usr/bin/python3 - "$SUITE" >"$sources" <<'PY' || die "could not read the host's apt sources"
import glob, os, re, sys
suite = sys.argv[1]
ok = re.compile(r"^%s(-updates|-security)?$" % re.escape(suite))
entries = []  # (uris, suites, components, signed_by), written out as deb822

def add(uris, suites, components, signed_by):
    if suites and all(ok.match(s) for s in suites):
        entries.append((uris, suites, components or ["main"], signed_by))

paths = ["/etc/apt/sources.list"] if os.path.isfile("/etc/apt/sources.list") else []
paths += sorted(glob.glob("/etc/apt/sources.list.d/*.list"))
paths += sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in paths:
    text = open(path, encoding="utf-8").read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            fields, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, val = line.partition(":")
                key = key.strip().lower()
                fields[key] = val.strip()
            if fields.get("enabled", "yes").lower() == "no":
                continue
            if "deb" not in fields.get("types", "").split():
                continue
            add(fields.get("uris", "").split(), fields.get("suites", "").split(),
                fields.get("components", "").split(), fields.get("signed-by"))
    else:
        for line in text.splitlines():
            m = re.match(r"^\s*deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line.split("#", 1)[0])
            if not m:
                continue
            opts = dict(o.split("=", 1) for o in (m.group(1) or "").strip(" []\t\n").split() if "=" in o)
            add([m.group(2)], [m.group(3)], m.group(4).split(), opts.get("signed-by"))
if not entries:
    sys.exit("no enabled 'deb' entries for %s in /etc/apt/sources.list{,.d/}" % suite)
for uris, suites, components, signed_by in entries:
    print("Types: deb")
    print("URIs: " + " ".join(uris))
    print("Suites: " + " ".join(suites))
    print("Components: " + " ".join(components))
    if signed_by:
        print("Signed-By: " + signed_by)
    print()
PY
fi
[ -s "$sources" ] || die "no apt sources for $SUITE found on this host (set BOSUN_APT_SOURCES=/path/to/sources)"

include="$(sed -e 's/#.*//' "$here/packages" | xargs | tr ' ' ,)"
log=/var/tmp/bosun-agent-base.log
say "building $TAG (mmdebstrap $SUITE minbase + $include; log: $log)"
start=$SECONDS
if ! mmdebstrap --variant=minbase --format=tar --quiet \
        --dpkgopt="$here/dpkg.cfg" \
        --include="$include" \
        --customize-hook="sh $(printf %q "$here/customize.sh") \"\$1\"" \
        "$SUITE" "$work/rootfs.tar" "$sources" >"$log" 2>&1; then
    tail -n 25 "$log" >&2
    die "mmdebstrap could not build the rootfs (full log: $log)"
fi

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
runtimes="runc"
if [[ "$("$DOCKER" info --format '{{json .Runtimes}}' 2>/dev/null)" == *'"runsc"'* ]]; then
    runtimes="runc runsc"
fi
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
