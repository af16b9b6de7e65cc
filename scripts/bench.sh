#!/usr/bin/env bash
# Every benchmark, each beside its obvious alternative, printing figures and ratios. Needs Docker (set up like the tests).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
ensure_node_deps
build
ensure_docker
# `npm run bench -- density [N]`: only the density benchmark (N profiles, default 100; 200 works)
if [ "${1:-}" = density ]; then
  log "density: ${2:-100} prefab profiles, memory per profile, list time, hibernation with 50 awake"
  exec node fleet/dist/bench/density.js "${2:-100}"
fi
log "prefab spawn-to-healthy vs a bare node agent";            node fleet/dist/bench/prefab-spawn.js 5
log "container spawn-to-healthy vs a bare create+start";        node fleet/dist/bench/container-spawn.js --runs 5
log "what the network costs docker start (default bridge, twilight, none)"; node fleet/dist/bench/container-network.js --runs 5
log "swarm spawn-to-healthy vs container and a bare docker service create (skips without a swarm)"; node fleet/dist/bench/swarm-spawn.js --runs 5
log "move between swarm nodes: live pause vs a stop-and-start move (skips without root/ip/nsenter)"; node fleet/dist/bench/swarm-move.js 2
log "live migration pause vs container start";                  node fleet/dist/bench/migration.js 3
log "profile backup/restore (1,000 messages) vs tar czf/xzf";      node fleet/dist/bench/backup.js 500 3
log "hibernation: freeze in place vs stop, memory back and wake latency"; node fleet/dist/bench/hibernate.js 8
log "density (40 profiles; npm run bench -- density 200 for more)";  node fleet/dist/bench/density.js 40 --awake 10 --wakes 10
log "MCP tool-call latency vs the same query on DuckDB";        node mcp/tushare/dist/bench/tool-latency.js
log "profile runtime start to /health vs a bare Node HTTP server"; node agent/dist/bench/start.js --runs 7 --node-options=--max-semi-space-size=1 # as prefab profiles run (AGENT_NODE_FLAGS)
log "chat latency (offline model, tool calls) and idle RSS";    node agent/dist/bench/chat-latency.js --node-options=--max-semi-space-size=1 # the runtime's flags (AGENT_NODE_FLAGS, fleet/src/images/refs.ts)
log "model gateway overhead vs a direct call and a bare proxy (upstream answering at once, then at 100 ms)"
node gateway/dist/bench/overhead.js --requests 400
node gateway/dist/bench/overhead.js --requests 400 --upstream-latency-ms 100

# Billing: WeChat Pay notification -> profile healthy on this fleet (HTTP transport, HMAC credential), p50/p95 per tier,
# and 50 concurrent paid orders, beside the fleet's own spawn figures above.
CLI=(node "$ROOT/fleet/dist/main.js")
"${CLI[@]}" up >/dev/null
mkdir -p ops/bench && chmod 700 ops/bench
if [ ! -f ops/bench/billing-key.json ]; then
  "${CLI[@]}" provision-key create "bench-billing-$(date +%s)" --json >ops/bench/billing-key.json
  chmod 600 ops/bench/billing-key.json
fi
node -e 'const k=require("./ops/bench/billing-key.json");require("fs").writeFileSync("ops/bench/billing-key.secret",k.secret,{mode:0o600});process.stdout.write(k.key_id)' >ops/bench/billing-key.id
log "payment -> provisioned on this fleet (prefab and container), 50 concurrent paid orders"
node backend/dist/bench/payment-provision.js --runs 5 --concurrent 50 \
  --fleet-url "$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync("ops/fleet.pid","utf8")).url)')" \
  --key-id "$(cat ops/bench/billing-key.id)" --secret-file ops/bench/billing-key.secret
node fleet/dist/bench/remove-users.js bench-
