#!/usr/bin/env bash
# The README's test command: installs what it needs (idempotent), then typecheck, lint, import cycles, unit tests,
# and integration tests against real PostgreSQL, Docker Engine, DuckDB and MCP.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
ensure_node_deps
build
log "lint and format (biome)"; npx biome check .
log "import rules (dependency-cruiser, .dependency-cruiser.cjs)"; npm run --silent deps
log "import cycles (madge)"; npx madge --circular --warning --extensions js core/dist fleet/dist agent/dist mcp/tushare/dist skill/stock-research/dist backend/dist gateway/dist
log "unit tests"; bash scripts/run-tests.sh unit
log "prometheus config and alert rules (promtool check config|rules, test rules)"; ensure_prometheus
( d="$(mktemp -d)"; trap 'rm -rf "$d"' EXIT; cp -r deploy/prometheus/. "$d"; mkdir -p "$d/secrets"; echo placeholder-token >"$d/secrets/scrape-token"
  promtool check config "$d/prometheus.yml" && promtool check rules deploy/prometheus/rules/*.yml && promtool test rules deploy/prometheus/tests/*.yml )
ensure_postgres
ensure_docker
ensure_test_tools
log "integration tests"; bash scripts/run-tests.sh int
