#!/usr/bin/env bash
# The README's main job: set up what is needed (idempotent), start the fleet daemon, and run `hermes-admin verify`:
# the data service, the plan's five test profiles and its verification checklist, with a report.
# Extra arguments go to `hermes-admin verify` (e.g. --cleanup, --json).
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$ROOT"
ensure_node_deps
build
ensure_docker
apt_install openssh-server openssh-client  # billing's SSH transport row (a private sshd on loopback)
CLI=(node "$ROOT/fleet/dist/main.js")
# A daemon left from an older build would serve old code: restart it (profiles keep running and are re-adopted).
"${CLI[@]}" down >/dev/null
"${CLI[@]}" up
exec "${CLI[@]}" verify "$@"
