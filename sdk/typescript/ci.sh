#!/usr/bin/env bash
# CI for the TypeScript SDK: install the pinned dependencies, check that the
# committed generated code matches proto/, build, run the unit tests and
# check that the conformance runner was built.
#
# Needs Node 20 or newer and npm; runs from any directory.
set -euo pipefail

sdk_dir="$(cd "$(dirname "$0")" && pwd)"
repo_root="$(cd "$sdk_dir/../.." && pwd)"
buf="$repo_root/tools/buf/node_modules/.bin/buf"

log() {
  printf '\n==> typescript ci: %s\n' "$*"
}

# npm ci installs exactly package-lock.json. It runs again when the lock file
# changed since the last install.
install_dependencies() {
  local stamp="$sdk_dir/node_modules/.installed"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$sdk_dir/package-lock.json" ]; then
    return
  fi
  log "installing npm dependencies (npm ci)"
  (cd "$sdk_dir" && npm ci --no-audit --no-fund)
  touch "$stamp"
}

# The pinned buf CLI of tools/buf, installed the way the Makefile does it.
install_buf() {
  if [ -x "$buf" ]; then
    return
  fi
  log "installing the pinned buf CLI (tools/buf)"
  (cd "$repo_root/tools/buf" && npm ci --ignore-scripts --no-audit --no-fund)
}

check_generated() {
  log "regenerating sdk/typescript/gen into a temporary folder"
  local scratch
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' RETURN
  (cd "$repo_root" && "$buf" generate --template buf.gen.typescript.yaml --output "$scratch")
  if ! diff -ru "$sdk_dir/gen" "$scratch/sdk/typescript/gen"; then
    echo "sdk/typescript/gen differs from the code generated from proto/; run" >&2
    echo "  tools/buf/node_modules/.bin/buf generate --template buf.gen.typescript.yaml" >&2
    echo "from the repository root and commit the result" >&2
    return 1
  fi
}

install_dependencies
install_buf
check_generated

log "building (tsc)"
(cd "$sdk_dir" && rm -rf dist && npm run --silent build)

log "checking the conformance runner"
node "$sdk_dir/dist/conformance/runner.js" --help >/dev/null

log "running the unit tests (node --test)"
(cd "$sdk_dir" && node --test dist/test/)
