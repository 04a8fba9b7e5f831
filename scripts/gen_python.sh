#!/usr/bin/env bash
# Generate the Python protobuf and gRPC modules from proto/ into the SDK.
# Usage: scripts/gen_python.sh [OUTPUT_ROOT]   (default: sdk/python/src)
set -euo pipefail
cd "$(dirname "$0")/.."

python="${PYTHON:-.venv/bin/python}"
out="${1:-sdk/python/src}"
mkdir -p "$out"
rm -f "$out"/workpool/v1/*_pb2*.py "$out"/workpool/v1/*_pb2*.pyi

PATH="$(dirname "$python"):$PATH" "$python" -m grpc_tools.protoc \
  --proto_path=proto \
  --python_out="$out" \
  --grpc_python_out="$out" \
  --mypy_out="$out" \
  --mypy_grpc_out="$out" \
  proto/workpool/v1/*.proto

touch "$out/workpool/v1/__init__.py"
