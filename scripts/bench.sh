#!/usr/bin/env bash
# Every benchmark, each beside its obvious alternative, printing figures and ratios. Needs Docker (set up like the tests).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
ensure_node_deps
build
ensure_docker
log "prefab spawn-to-healthy vs a bare node agent";            node fleet/dist/bench/prefab-spawn.js 5
log "container spawn-to-healthy vs a bare create+start";        node fleet/dist/bench/container-spawn.js --runs 5
log "live migration pause vs container start";                  node fleet/dist/bench/migration.js 3
log "MCP tool-call latency vs the same query on DuckDB";        node mcp/tushare/dist/bench/tool-latency.js
log "chat latency (offline model, tool calls) and idle RSS";    node agent/dist/bench/chat-latency.js
