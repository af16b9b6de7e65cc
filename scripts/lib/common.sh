#!/usr/bin/env bash
# Shared helpers for the project's scripts: idempotent setup of what the tests and the main job need on a fresh
# Debian 12 machine (as root). Every function may be called again safely.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export ROOT
export npm_config_loglevel="${npm_config_loglevel:-error}"
export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }

apt_install() { # pkg... ; installs only what is missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ ! -f /var/lib/apt/lists/.twilight-updated ] || [ -n "$(find /var/lib/apt/lists/.twilight-updated -mmin +720 2>/dev/null)" ]; then
    apt-get update -qq && touch /var/lib/apt/lists/.twilight-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_node_deps() {
  local stamp="$ROOT/node_modules/.twilight-lock-sha"
  local want; want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "installing npm dependencies (npm ci; native modules build from source here, about 2 minutes)"
  (cd "$ROOT" && npm ci --no-audit --no-fund >/dev/null)
  echo "$want" >"$stamp"
}

build() {
  log "typechecking and building (tsc -b, then the profile runtime's and the CLI's bundles)"
  (cd "$ROOT" && npx tsc -b && node scripts/bundle-agent.mjs && node scripts/bundle-cli.mjs)
}

# PostgreSQL: a private cluster for tests on 127.0.0.1:${TWILIGHT_PG_PORT:-55432}, owned by the postgres OS user.
PG_PORT="${TWILIGHT_PG_PORT:-55432}"
PG_DIR="${TWILIGHT_PG_DIR:-/var/tmp/twilight-pg}"
ensure_postgres() {
  if ! command -v pg_ctl >/dev/null 2>&1 && [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ]; then apt_install postgresql; fi
  local bin; bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster for tests in $PG_DIR"
    mkdir -p "$PG_DIR" && chown postgres:postgres "$PG_DIR" && chmod 0700 "$PG_DIR"
    runuser -u postgres -- "$bin/initdb" -D "$PG_DIR" -A trust -U postgres >/dev/null
  fi
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    runuser -u postgres -- "$bin/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR -c fsync=off" start >/dev/null
  fi
  export TWILIGHT_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

# Docker Engine: Debian's docker.io, dockerd started detached (no systemd here), wait for the socket.
# --no-new-privileges makes it the default of every container: Debian's engine (API 1.41) has no per-service switch,
# and the swarm tier refuses to run without it (runtime/swarm.ts). --icc=false: container profiles run on the default
# bridge (FLEET_CONTAINER_NETWORK), where they must not reach each other (`hermes-admin doctor` row container-network).
ensure_docker() {
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  if docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then return 0; fi
  log "starting dockerd"
  mkdir -p /var/log
  setsid dockerd --no-new-privileges --icc=false >/var/log/twilight-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 120); do
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "dockerd did not come up in 60 s; see /var/log/twilight-dockerd.log" >&2
  tail -20 /var/log/twilight-dockerd.log >&2 || true
  return 1
}

# Prometheus and promtool: Debian's package (2.42). Its service is never started here (no systemd; tests start their own
# prometheus on a loopback port they pick and stop it by pid).
ensure_prometheus() {
  if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then return 0; fi
  apt_install prometheus
}

# Tools the integration tests drive for real: Debian's OpenSSH server (billing's SSH transport, started per test on
# loopback with its own config) and Chromium (dashboard and checkout pages, through playwright-core).
ensure_test_tools() {
  apt_install openssh-server openssh-client chromium
  mkdir -p /run/sshd
}
