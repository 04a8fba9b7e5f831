#!/usr/bin/env bash
# Fail if the committed Python code generated from proto/ is out of date.
# Generates into a temporary folder with scripts/gen_python.sh and compares
# the result with sdk/python/src/workpool/v1, the folder that `make gen` writes.
set -euo pipefail
cd "$(dirname "$0")/.."

committed=sdk/python/src/workpool/v1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

bash scripts/gen_python.sh "$scratch"

# __init__.py is only created when missing by the generator, and __pycache__
# comes from imports, so neither is part of the comparison.
if diff -ru --exclude=__pycache__ --exclude=__init__.py \
  "$committed" "$scratch/workpool/v1"; then
  echo "check-gen: $committed matches proto/"
else
  echo "check-gen: $committed does not match proto/ (diff above)." >&2
  echo "check-gen: run 'make gen' and commit the changes in $committed." >&2
  exit 1
fi
