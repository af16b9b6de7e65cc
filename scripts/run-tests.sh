#!/usr/bin/env bash
# Run the compiled tests of one tier: `unit` (*.test.js, no engines) or `int` (*.int.test.js, real engines).
# Usage: scripts/run-tests.sh unit|int [path-filter]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tier="${1:?unit or int}"; filter="${2:-}"
cd "$ROOT"
dirs=(core/dist fleet/dist agent/dist mcp/tushare/dist skill/stock-research/dist backend/dist gateway/dist)
existing=(); for d in "${dirs[@]}"; do [ -d "$d" ] && existing+=("$d"); done
if [ "$tier" = unit ]; then
  mapfile -t files < <(find "${existing[@]}" -name '*.test.js' ! -name '*.int.test.js' | sort)
else
  mapfile -t files < <(find "${existing[@]}" -name '*.int.test.js' | sort)
fi
if [ -n "$filter" ]; then mapfile -t files < <(printf '%s\n' "${files[@]}" | grep -- "$filter" || true); fi
if [ ${#files[@]} -eq 0 ]; then echo "no $tier tests found"; exit 1; fi
conc=2; [ "$tier" = int ] && conc="${TWILIGHT_INT_CONCURRENCY:-1}"
exec node --enable-source-maps --test --test-concurrency="$conc" --test-reporter=spec "${files[@]}"
