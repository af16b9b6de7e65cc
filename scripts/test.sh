#!/usr/bin/env bash
# The README's test command: installs what it needs (idempotent), then typecheck, lint, import cycles, unit tests,
# and integration tests against real PostgreSQL, Docker Engine, DuckDB and MCP.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
ensure_node_deps
build
log "lint and format (biome)"; npx biome check .
log "import cycles (madge)"; npx madge --circular --warning --extensions js core/dist fleet/dist agent/dist mcp/tushare/dist skill/stock-research/dist
log "unit tests"; bash scripts/run-tests.sh unit
ensure_postgres
ensure_docker
log "integration tests"; bash scripts/run-tests.sh int
