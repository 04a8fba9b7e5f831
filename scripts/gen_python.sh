#!/usr/bin/env bash
# Generate the Python protobuf and gRPC modules from proto/ with buf, as
# buf.gen.yaml describes: protoc and the gRPC generator of the pinned
# grpcio-tools, and the mypy-protobuf stub plugins, all local.
# Usage: scripts/gen_python.sh [OUTPUT_ROOT]   (default: sdk/python/src)
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-sdk/python/src}"
base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT

PATH="$PWD/.venv/bin:$PWD/tools:$PATH" tools/buf/node_modules/.bin/buf generate -o "$base"

mkdir -p "$out/workpool/v1"
rm -f "$out"/workpool/v1/*_pb2*.py "$out"/workpool/v1/*_pb2*.pyi
cp "$base"/sdk/python/src/workpool/v1/* "$out/workpool/v1/"
touch "$out/workpool/v1/__init__.py"
