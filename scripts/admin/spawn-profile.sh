#!/usr/bin/env bash
# spawn-profile.sh <profile-name> <tier> [hermes-admin spawn options...]
# The plan's spawner (section 0.1), as a thin wrapper: `hermes-admin spawn` does the work (validate, copy the template,
# generate secrets, plant .env and config.yaml, allocate port and uid, start, wait healthy) and prints the profile path,
# status URL and connection info. Starts the fleet daemon first if it is not running.
set -euo pipefail
if [ $# -lt 2 ] || [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  echo "usage: $(basename "$0") <profile-name> <prefab|container> [--plan P] [--set KEY=VALUE]... [--idempotency-key K] [--json]" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CLI="$ROOT/fleet/dist/main.js"
[ -f "$CLI" ] || { echo "not built yet: run 'npm test' or 'npx tsc -b' in $ROOT first" >&2; exit 1; }
name="$1"; tier="$2"; shift 2
node "$CLI" up >/dev/null
exec node "$CLI" spawn "$name" --tier "$tier" "$@"
