#!/usr/bin/env bash
# Bring a Debian bookworm machine to the state Bosun's tests and demo need:
#   packages (docker.io, runsc, mmdebstrap, postgresql 15, git, python3),
#   gVisor registered with Docker as runtime "runsc", dockerd running,
#   PostgreSQL 15 running with role/database bosun (password bosun) on 127.0.0.1:5432,
#   node_modules installed (with Node 24 from the `node` package),
#   the agent base image bosun/agent-base, the CLI agents' image bosun/agent-clis and the
#   universal image bosun/agent-universal (Node, Python, Go, Rust, Java, Ruby) built,
#   Compose (Debian's docker-compose, unless `docker compose` works) and the local base images
#   of the deployment test (node:24-bookworm-slim, bosun/postgres:15) built.
# Idempotent and non-interactive; a second run only checks (about a second).
# Runs as the npm pretest/predemo hook. Acting (installing, starting daemons,
# building the image) needs root; checking does not.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null
export DEBIAN_FRONTEND=noninteractive
export LC_ALL=C.UTF-8

PG_VERSION=15
PG_CLUSTER=main
PG_PORT=5432
DOCKERD_LOG=/var/log/dockerd.log
RUNSC=/usr/bin/runsc   # Debian's gVisor
DOCKER="${DOCKER:-docker}"
command -v "$DOCKER" >/dev/null || DOCKER=/usr/bin/docker

say() { printf 'setup: %-11s %s\n' "$1" "$2"; }
die() { printf 'setup: %-11s FAILED: %s\n' "$1" "$2" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
need_root() { is_root || die "$1" "$2 needs root; run: sudo bash scripts/setup.sh"; }

# One setup at a time (npm hooks of parallel commands, CI retries).
lockfile=/tmp/bosun-setup.lock
if command -v flock >/dev/null && { exec 9>>"$lockfile"; } 2>/dev/null; then
    flock -w 900 9 || die lock "another setup.sh has held $lockfile for 15 minutes"
fi

# ---------------------------------------------------------------- packages
pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = 'install ok installed' ]; }
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
[ -x "$RUNSC" ] || missing+=(runsc)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
pkg_installed "postgresql-$PG_VERSION" || missing+=(postgresql)
command -v git >/dev/null || missing+=(git)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v flock >/dev/null || missing+=(util-linux)
# docker/compose.yml and its test: Compose v2's plugin where present, else Debian's docker-compose 1.29.
command -v docker-compose >/dev/null || { command -v "$DOCKER" >/dev/null && "$DOCKER" compose version >/dev/null 2>&1; } || missing+=(docker-compose)
# The dashboard's browser test drives Debian's Chromium (Playwright's own download needs a registry we cannot reach).
command -v chromium >/dev/null || missing+=(chromium)
pkg_installed fonts-dejavu-core || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" = 0 ]; then
    say packages "docker.io, runsc, mmdebstrap, postgresql-$PG_VERSION, git, python3, chromium, compose already installed"
else
    need_root packages "installing ${missing[*]}"
    aptlog=/var/log/bosun-setup-apt.log
    # Keep package maintainer scripts from starting daemons: started below.
    policy_rc=/usr/sbin/policy-rc.d
    if [ ! -e "$policy_rc" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod +x "$policy_rc"
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    say packages "installing ${missing[*]} (apt log: $aptlog)"
    if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$aptlog" 2>&1; then
        tail -n 20 "$aptlog" >&2
        die packages "apt-get could not install ${missing[*]} (see $aptlog)"
    fi
    if [ "$(trap -p EXIT)" != "" ]; then rm -f "$policy_rc"; trap - EXIT; fi
fi

# ------------------------------------------------- gVisor in daemon.json
daemon_json=/etc/docker/daemon.json
daemon_json_changed=0
if ! merge_out="$(/usr/bin/python3 - "$daemon_json" "$RUNSC" "$(is_root && echo write || echo check)" <<'PY' 2>&1
import json, os, sys
path, runsc, mode = sys.argv[1:4]
want = {"path": runsc, "runtimeArgs": ["--network=none", "--fsgofer-host-uds"]}
cur = {}
if os.path.exists(path):
    try:
        with open(path) as f:
            text = f.read()
        cur = json.loads(text) if text.strip() else {}
    except ValueError as e:
        sys.exit("%s is not valid JSON (%s); fix or remove it" % (path, e))
    if not isinstance(cur, dict):
        sys.exit("%s does not hold a JSON object; fix or remove it" % path)
runtimes = cur.get("runtimes") if isinstance(cur.get("runtimes"), dict) else {}
if runtimes.get("runsc") == want:
    print("unchanged")
    sys.exit(0)
if mode != "write":
    sys.exit("runtime runsc is missing or different in %s and writing it needs root" % path)
runtimes["runsc"] = want
cur["runtimes"] = runtimes
os.makedirs(os.path.dirname(path), exist_ok=True)
tmp = path + ".bosun-tmp"
with open(tmp, "w") as f:
    json.dump(cur, f, indent=2)
    f.write("\n")
os.replace(tmp, path)
print("changed")
PY
)"; then
    die docker-cfg "$merge_out"
fi
if [ "$merge_out" = changed ]; then
    daemon_json_changed=1
    say docker-cfg "registered gVisor ($RUNSC --network=none --fsgofer-host-uds) as runtime runsc in $daemon_json"
else
    say docker-cfg "runtime runsc already registered in $daemon_json"
fi

# ---------------------------------------------------------------- dockerd
# Prints the daemon's runtimes as JSON; fails if the daemon does not answer.
docker_runtimes() { timeout 20 "$DOCKER" info --format '{{json .Runtimes}}' 2>/dev/null; }
runsc_registered() { local r; r="$(docker_runtimes)" && [[ "$r" == *'"runsc"'* ]]; }
dockerd_pid() {
    local pid
    pid="$(cat /var/run/docker.pid 2>/dev/null || true)"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
wait_for_docker() {  # $1: seconds
    local deadline=$((SECONDS + $1))
    until docker_runtimes >/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            tail -n 15 "$DOCKERD_LOG" >&2 2>/dev/null || true
            die dockerd "the Docker daemon did not answer within $1s (log: $DOCKERD_LOG)"
        fi
        sleep 0.5
    done
}
start_dockerd() {
    need_root dockerd "starting the Docker daemon"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    printf '\n=== %s: started by bosun scripts/setup.sh\n' "$(date -Is)" >>"$DOCKERD_LOG"
    # 9>&-: the daemon must not inherit (and so keep holding) setup's lock.
    setsid -f /usr/sbin/dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&-
    sleep 0.5
    wait_for_docker 60
}

# The client on PATH (e.g. /usr/local/bin/docker) may differ from Debian's
# /usr/bin/docker; the CLI negotiates the API version, but check it talks to
# this daemon and fall back to Debian's client if it does not.
if docker_runtimes >/dev/null; then
    state=running
elif [ -n "$(dockerd_pid)" ]; then
    state=starting
else
    state=down
fi
if [ "$state" = running ]; then
    if [ "$daemon_json_changed" = 1 ] || ! runsc_registered; then
        need_root dockerd "reloading the Docker daemon"
        pid="$(dockerd_pid || true)"
        [ -n "$pid" ] || die dockerd "the Docker daemon runs but /var/run/docker.pid is missing: restart it so it reads $daemon_json"
        kill -HUP "$pid"   # dockerd reloads "runtimes" on SIGHUP
        for _ in $(seq 20); do runsc_registered && break; sleep 0.25; done
        if ! runsc_registered; then
            kill -TERM "$pid"
            for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
            kill -0 "$pid" 2>/dev/null && die dockerd "the Docker daemon (pid $pid) did not stop for a restart"
            start_dockerd
            say dockerd "restarted the Docker daemon to load $daemon_json (log: $DOCKERD_LOG)"
        else
            say dockerd "reloaded the Docker daemon (SIGHUP) to load $daemon_json"
        fi
    else
        say dockerd "Docker daemon already running"
    fi
elif [ "$state" = starting ]; then
    wait_for_docker 60
    say dockerd "Docker daemon was starting; it answers now"
else
    start_dockerd
    say dockerd "started the Docker daemon in the background (log: $DOCKERD_LOG)"
fi
runsc_registered || die dockerd "the Docker daemon does not list runtime runsc although $daemon_json has it; restart dockerd"

if ! versions="$(timeout 20 "$DOCKER" version --format '{{.Client.Version}} {{.Server.Version}} {{.Server.APIVersion}}' 2>&1)"; then
    if [ "$DOCKER" != /usr/bin/docker ] && /usr/bin/docker version >/dev/null 2>&1; then
        say docker "client $(command -v "$DOCKER") does not work with this daemon ($versions); using /usr/bin/docker"
        DOCKER=/usr/bin/docker
    else
        die docker "the docker client cannot talk to the daemon: $versions"
    fi
fi
export DOCKER

# ------------------------------------------------------------- PostgreSQL
pg_field() {  # $1: column of pg_lsclusters (3 port, 4 status)
    pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" -v f="$1" '$1==v && $2==c {print $f}'
}
as_postgres_psql() {
    (cd / && runuser -u postgres -- psql -p "$PG_PORT" -X -q -t -A -v ON_ERROR_STOP=1 "$@")
}
bosun_db_ok() {
    [ "$(PGPASSWORD=bosun PGCONNECT_TIMEOUT=5 psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U bosun -d bosun -c \
        "select (select rolcreatedb and rolcanlogin from pg_roles where rolname = current_user)
            and (select pg_get_userbyid(datdba) = 'bosun' from pg_database where datname = current_database())" \
        2>/dev/null)" = t ]
}

if [ -z "$(pg_field 4)" ]; then
    need_root postgres "creating cluster $PG_VERSION/$PG_CLUSTER"
    pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >/dev/null || die postgres "pg_createcluster $PG_VERSION $PG_CLUSTER failed"
    say postgres "created cluster $PG_VERSION/$PG_CLUSTER"
fi
port="$(pg_field 3)"
[ "$port" = "$PG_PORT" ] || die postgres "cluster $PG_VERSION/$PG_CLUSTER is configured for port $port, Bosun's tests expect $PG_PORT (port in /etc/postgresql/$PG_VERSION/$PG_CLUSTER/postgresql.conf)"
if [ "$(pg_field 4)" = online ]; then
    pg_state="PostgreSQL $PG_VERSION already running"
else
    need_root postgres "starting PostgreSQL"
    pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start 9>&- \
        || die postgres "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed (log: /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log)"
    pg_state="started PostgreSQL $PG_VERSION/$PG_CLUSTER"
fi
for _ in $(seq 60); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.5; done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" \
    || die postgres "PostgreSQL does not accept connections on 127.0.0.1:$PG_PORT after 30s (log: /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log)"

if bosun_db_ok; then
    say postgres "$pg_state; role and database bosun reachable at 127.0.0.1:$PG_PORT"
else
    need_root postgres "creating role/database bosun"
    as_postgres_psql >/dev/null <<'SQL' || die postgres "could not create role bosun"
DO $$BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'bosun') THEN
    ALTER ROLE bosun LOGIN CREATEDB PASSWORD 'bosun';
  ELSE
    CREATE ROLE bosun LOGIN CREATEDB PASSWORD 'bosun';
  END IF;
END$$;
SQL
    if [ "$(as_postgres_psql -c "select 1 from pg_database where datname = 'bosun'")" = 1 ]; then
        as_postgres_psql -c 'ALTER DATABASE bosun OWNER TO bosun' >/dev/null || die postgres "could not give database bosun to role bosun"
    else
        as_postgres_psql -c 'CREATE DATABASE bosun OWNER bosun' >/dev/null || die postgres "could not create database bosun"
    fi
    if ! bosun_db_ok; then
        # Password login over TCP refused: allow it for bosun from 127.0.0.1.
        hba="$(as_postgres_psql -c 'show hba_file')"
        sed -i "1i host bosun bosun 127.0.0.1/32 scram-sha-256  # added by bosun scripts/setup.sh" "$hba"
        as_postgres_psql -c 'select pg_reload_conf()' >/dev/null
        sleep 0.5
        bosun_db_ok || die postgres "role bosun cannot log in with password over TCP at 127.0.0.1:$PG_PORT; check $hba"
        say postgres "allowed password login for bosun from 127.0.0.1 in $hba"
    fi
    say postgres "$pg_state; created role bosun (LOGIN CREATEDB) and database bosun at 127.0.0.1:$PG_PORT"
fi

# ---------------------------------------------------------------- node_modules
node24() { [ -x node_modules/.bin/node ] && node_modules/.bin/node --version 2>/dev/null | grep -q '^v24\.'; }
if [ -f node_modules/.package-lock.json ] && ! [ package-lock.json -nt node_modules/.package-lock.json ] && node24; then
    say npm "node_modules up to date with package-lock.json (Node $(node_modules/.bin/node --version))"
elif [ -L node_modules ]; then
    # A git worktree sharing another checkout's node_modules: npm ci would empty that checkout's
    # folder through the link (and a fresh checkout's lock file always looks newer).
    node24 || die npm "node_modules links to $(readlink node_modules), which has no Node 24: run setup there"
    say npm "node_modules links to $(readlink node_modules); left alone (Node $(node_modules/.bin/node --version))"
else
    # Plain system npm, not one of node_modules/.bin (which npm ci replaces).
    clean_path="$(printf '%s' "$PATH" | tr ':' '\n' | grep -v '/node_modules/\.bin$' | paste -sd: -)"
    npmlog="${TMPDIR:-/tmp}/bosun-setup-npm-ci.log"
    say npm "running npm ci (log: $npmlog)"
    if ! PATH="$clean_path" npm ci --no-audit --no-fund >"$npmlog" 2>&1; then
        tail -n 25 "$npmlog" >&2
        die npm "npm ci failed (see $npmlog)"
    fi
    node24 || die npm "node_modules/.bin/node is not Node 24 after npm ci: the install script of the \`node\` package did not run (npm allowScripts / ignore-scripts?). Output of npm ci: $npmlog"
    say npm "installed node_modules (Node $(node_modules/.bin/node --version))"
fi

# ---------------------------------------------------------------- agent images
bash docker/agent-base/build.sh
# Codex and Claude Code on top of the base (agent.use: codex | claude).
bash docker/agent-clis/build.sh
# The common toolchains in one image (BOSUN_UNIVERSAL_AGENT_IMAGE, an org's sandbox.default_image);
# test/e2e/real-toolchains.test.ts runs Python, Go, Rust and npm repositories in it.
bash docker/agent-universal/build.sh

# ---------------------------------------------------------------- deployment test images
# test/e2e/compose.test.ts builds docker/Dockerfile FROM node:24-bookworm-slim and runs
# docker/compose.yml on bosun/postgres:15; no container registry is reachable, so both are
# made here from Debian's packages and the npm registry (a registry's node:24-bookworm-slim,
# where one was pulled, is used as it is).
bash docker/node-base/build.sh
bash docker/postgres-base/build.sh
