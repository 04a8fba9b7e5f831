#!/usr/bin/env bash
# Checks the Go SDK. It downloads the pinned modules and builds the code
# generators at the versions in go.mod. It regenerates the protobuf code into
# a temporary folder and fails if that differs from the committed code. Then
# it runs go vet, gofmt and the tests, and builds the conformance runner into
# .tools/bin/conformance.
#
# Run from anywhere: sdk/go/ci.sh. Needs Go 1.26 and npm (for the pinned buf
# CLI in tools/buf). The tests against a real server use WORKPOOL_COMMAND, or
# the repository's .venv/bin/workpool, and skip with a message when neither
# exists.
set -euo pipefail

SDK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$SDK_DIR/../.." && pwd)"
BUF="$ROOT/tools/buf/node_modules/.bin/buf"
TOOLS_BIN="$SDK_DIR/.tools/bin"

step() { printf '==> %s\n' "$*"; }

cd "$SDK_DIR"
step "go $(go env GOVERSION): downloading modules"
go mod download
go mod verify

step "building protoc-gen-go and protoc-gen-go-grpc (versions pinned in go.mod)"
GOBIN="$TOOLS_BIN" go install tool

if [ ! -x "$BUF" ]; then
    step "installing the pinned buf CLI into tools/buf"
    npm ci --prefix "$ROOT/tools/buf" --no-audit --no-fund
fi

step "checking that the generated code is up to date"
generated="$(mktemp -d)"
trap 'rm -rf "$generated"' EXIT
(cd "$ROOT" && "$BUF" generate --template buf.gen.go.yaml --output "$generated")
if ! diff -r "$generated/sdk/go/gen" "$SDK_DIR/gen"; then
    echo "sdk/go/gen differs from the code that buf.gen.go.yaml generates;" >&2
    echo "run: tools/buf/node_modules/.bin/buf generate --template buf.gen.go.yaml (from the repository root)" >&2
    exit 1
fi

step "go build, go vet, gofmt"
go build ./...
go vet ./...
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "gofmt would change these files:" >&2
    echo "$unformatted" >&2
    exit 1
fi

step "go test"
go test -count=1 ./...

step "building the conformance runner into $TOOLS_BIN/conformance"
go build -o "$TOOLS_BIN/conformance" ./cmd/conformance
