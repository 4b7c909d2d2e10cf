#!/bin/sh
# mmdebstrap customize hook: runs on the host after all packages are installed.
# $1 is the root directory of the image being built.
set -eu
root="$1"

# Non-root user the agent runs as.
chroot "$root" groupadd --gid 1000 agent
chroot "$root" useradd --uid 1000 --gid 1000 --home-dir /home/agent \
    --create-home --shell /bin/bash agent

# /workspace: the repository checkout (a volume at run time), owned by the agent.
# /bosun: Bosun's own files: task.json in, result.json out (a per-run volume at run time).
install -d -o 1000 -g 1000 -m 0755 "$root/workspace"
install -d -o 1000 -g 1000 -m 0755 "$root/bosun"

# The workspace volume may have been populated by another uid.
printf '[safe]\n\tdirectory = /workspace\n' > "$root/etc/gitconfig"

# Logs of the build itself are noise in the image.
rm -f "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log \
      "$root"/var/log/apt/* "$root"/var/cache/debconf/*-old
