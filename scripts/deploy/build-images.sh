#!/usr/bin/env bash
# Build the Twilight images with no registry: the base from the host's Node.js (or TWILIGHT_BASE_IMAGE when that image is
# already on this host), then twilight/hermes-profile and twilight/mcp-tushare (add `--only profile,mcp,fleet` for the
# fleet image used by deploy/compose.yml). A rebuild with no change is a content-hash check and takes about a second.
# Same as `hermes-admin images build`. Options: --only LIST  --base-image REF  --force  --json
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
cd "$ROOT"
ensure_node_deps
ensure_docker
build
exec node "$ROOT/fleet/dist/images/main.js" "$@"
