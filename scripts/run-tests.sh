#!/usr/bin/env bash
# Run the compiled tests of one tier: `unit` (*.test.js, no engines), `int` (*.int.test.js, real engines) or `heavy`
# (the integration suites too long for every `npm test`, listed in HEAVY below; `npm run test:heavy`).
# Usage: scripts/run-tests.sh unit|int|heavy [path-filter]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tier="${1:?unit, int or heavy}"; filter="${2:-}"
# about five minutes together, kept out of `npm test` (15-minute budget): the cross-tenant matrix (the plan's five
# profiles, both tiers), backup/restore/export/import across two fleets, the fleet upgrade with canary, rollback
# and pause/resume (five profiles moved several times under load), and leader failover (two daemons on PostgreSQL,
# four takeovers, one of them after a simulated partition: 37-45 s)
HEAVY='/e2e/(matrix|day2|day2-upgrade|failover|swarm-nodes)\.int\.test\.js$'
cd "$ROOT"
# the profile runtime's bundle follows dist/ (0.3 s): a test never starts an older runtime than the code it tests
if [ "$tier" != unit ] && [ -f agent/dist/main.js ]; then node scripts/bundle-agent.mjs; fi
if [ "$tier" != unit ] && [ -f fleet/dist/cli-entry.js ]; then node scripts/bundle-cli.mjs; fi
dirs=(core/dist fleet/dist agent/dist mcp/tushare/dist skill/stock-research/dist backend/dist gateway/dist)
existing=(); for d in "${dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
if [ "$tier" = unit ]; then
  mapfile -t files < <(find "${existing[@]}" -name '*.test.js' ! -name '*.int.test.js' | sort)
elif [ "$tier" = heavy ]; then
  mapfile -t files < <(find "${existing[@]}" -name '*.int.test.js' | grep -E "$HEAVY" | sort)
else
  mapfile -t files < <(find "${existing[@]}" -name '*.int.test.js' | grep -vE "$HEAVY" | sort)
fi
if [ -n "$filter" ]; then mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -- "$filter" || true); fi
if [ ${#files[@]} -eq 0 ]; then echo "no $tier tests found"; exit 1; fi
conc=2; [ "$tier" != unit ] && conc="${TWILIGHT_INT_CONCURRENCY:-1}"
exec node --enable-source-maps --test --test-concurrency="$conc" --test-reporter=spec "${files[@]}"
