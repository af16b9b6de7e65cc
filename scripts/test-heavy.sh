#!/usr/bin/env bash
# The heavy suites that do not run in every `npm test` (see HEAVY in run-tests.sh): the cross-tenant matrix over the
# plan's five profiles on both tiers, the fleet upgrade with canary and rollback under load, and leader failover (two
# daemons on one PostgreSQL registry). Installs and starts what they need, like `npm test`. `npm run test:nightly` is the other heavy one (50 crash-safety trials).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
ensure_node_deps
build
ensure_postgres
ensure_docker
ensure_test_tools
log "heavy integration tests"; bash scripts/run-tests.sh heavy "$@"
