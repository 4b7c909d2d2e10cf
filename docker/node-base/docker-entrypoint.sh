#!/bin/sh
# As the official node image's entrypoint: arguments that start with "-", or that name no
# command, are node's (`docker run node:24-bookworm-slim -e '…'`); anything else runs as given.
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
    set -- node "$@"
fi
exec "$@"
