#!/usr/bin/env bash
# Validate a skill (its SKILL.md frontmatter) and install it into the shared skills directory, Hermes layout
# <skills-root>/<category>/<name>/, readable by every profile and writable by none (dirs 0755, files 0644, executables
# under bin/ and scripts/ 0755). The copy is staged beside the target and swapped in with a rename, so profiles never see
# a half-installed skill. Build outputs and sources (node_modules, src, dist, package.json, tsconfig) are not copied:
# a skill's bin/ wrappers find their compiled code under $TWILIGHT_APP_DIR.
#
# Usage: scripts/admin/install-skill.sh [--check] [--json] <skill-dir> [skills-root]
#   skills-root defaults to $TWILIGHT_SKILLS_DIR, else <repo>/ops/skills.
# Exit codes: 0 installed (or valid with --check), 1 invalid skill, 2 usage, 3 install failed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

check=0; json=0; args=()
for a in "$@"; do
  case "$a" in
    --check) check=1 ;;
    --json) json=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "install-skill: unknown option $a" >&2; exit 2 ;;
    *) args+=("$a") ;;
  esac
done
[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || { echo "usage: install-skill.sh [--check] [--json] <skill-dir> [skills-root]" >&2; exit 2; }
src="${args[0]}"
root="${args[1]:-${TWILIGHT_SKILLS_DIR:-$ROOT/ops/skills}}"
[ -d "$src" ] || { echo "install-skill: $src is not a directory" >&2; exit 2; }
src="$(cd "$src" && pwd)"

validator="$ROOT/agent/dist/validate-skill.js"
[ -f "$validator" ] || { echo "install-skill: $validator is missing; build first (npx tsc -b agent)" >&2; exit 3; }
set +e
verdict="$(node "$validator" "$src")"; vrc=$?
set -e
if [ $vrc -ne 0 ]; then
  if [ $json -eq 1 ]; then echo "$verdict"; else
    echo "install-skill: $src is not a valid skill:" >&2
    node -e 'for (const e of JSON.parse(process.argv[1]).errors ?? []) console.error("  - " + e)' "$verdict"
  fi
  exit 1
fi
field() { node -e 'process.stdout.write(String(JSON.parse(process.argv[1])[process.argv[2]]))' "$verdict" "$1"; }
name="$(field name)"; category="$(field category)"; version="$(field version)"

# Refuse links that leave the skill and special files: the shared directory must hold plain files only.
while IFS= read -r -d '' l; do
  target="$(readlink -f "$l" || true)"
  case "$target" in "$src"/*) ;; *) echo "install-skill: $l points outside the skill ($target)" >&2; exit 1 ;; esac
done < <(find "$src" -type l -not -path '*/node_modules/*' -print0)

if [ $check -eq 1 ]; then
  if [ $json -eq 1 ]; then echo "$verdict"; else echo "valid: $name $version (category $category)"; fi
  exit 0
fi

dest_parent="$root/$category"
dest="$dest_parent/$name"
stage="$dest_parent/.$name.staging.$$"
old="$dest_parent/.$name.old.$$"
cleanup() { rm -rf -- "$stage" "$old"; }
trap cleanup EXIT
install -d -m 0755 "$root" "$dest_parent"
mkdir -m 0755 "$stage"
(cd "$src" && tar -c --exclude=./node_modules --exclude=.git --exclude=./src --exclude=./dist --exclude=./package.json \
    --exclude='./tsconfig*.json' --exclude='*.tsbuildinfo' -f - .) | (cd "$stage" && tar -x --no-same-owner -f -) ||
  { echo "install-skill: copying $src failed" >&2; exit 3; }
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod 0644 {} +
for d in bin scripts; do [ -d "$stage/$d" ] && find "$stage/$d" -type f -exec chmod 0755 {} +; done
chmod 0755 "$stage"
if [ -e "$dest" ]; then mv -T -- "$dest" "$old"; fi
mv -T -- "$stage" "$dest"
rm -rf -- "$old"
if [ $json -eq 1 ]; then
  printf '{"ok":true,"name":"%s","version":"%s","category":"%s","path":"%s"}\n' "$name" "$version" "$category" "$dest"
else
  echo "installed $name $version into $dest"
fi
