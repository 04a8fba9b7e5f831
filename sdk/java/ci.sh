#!/usr/bin/env bash
# Build and check the Java SDK. The script fetches the code generators, fails
# when the committed generated code differs from a fresh generation, compiles,
# runs the unit tests and builds the conformance runner. ServerTest starts the
# repository's .venv/bin/workpool, and is skipped when that does not exist.
#
# Needs Java 17, Maven 3.8 and Maven Central; buf comes from tools/buf
# (npm ci there when it is missing).
#
# Afterwards run the conformance suite with:
#   sdk/java/target/conformance-runner --server 127.0.0.1:PORT --scenarios tests/conformance/scenarios
set -euo pipefail

java_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$java_dir/../.." && pwd)"
buf="$repo_root/tools/buf/node_modules/.bin/buf"
mvn=(mvn -B -q -Dstyle.color=never -f "$java_dir/pom.xml")

echo "== fetching protoc and protoc-gen-grpc-java"
"${mvn[@]}" dependency:copy@codegen-tools
chmod +x "$java_dir/.tools/protoc" "$java_dir/.tools/protoc-gen-grpc-java"

if [[ ! -x "$buf" ]]; then
  echo "== installing buf (npm ci in tools/buf)"
  npm ci --prefix "$repo_root/tools/buf" --no-audit --no-fund
fi

echo "== checking that the generated code is up to date"
generated="$(mktemp -d)"
trap 'rm -rf "$generated"' EXIT
(cd "$repo_root" && "$buf" generate --template buf.gen.java.yaml -o "$generated")
if ! diff -r "$generated/sdk/java/src/main/generated" "$java_dir/src/main/generated"; then
  echo "sdk/java/src/main/generated differs from the protos; regenerate it from the" >&2
  echo "repository root with: $buf generate --template buf.gen.java.yaml" >&2
  exit 1
fi

echo "== building and running the unit tests"
mvn -B -Dstyle.color=never -f "$java_dir/pom.xml" test

echo "== building the conformance runner"
"${mvn[@]}" dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$java_dir/target/conformance.classpath"
runner="$java_dir/target/conformance-runner"
cat > "$runner" <<RUNNER
#!/usr/bin/env bash
# Runs the Java conformance runner; written by sdk/java/ci.sh.
exec java -cp "$java_dir/target/classes:$java_dir/target/test-classes:\$(cat "$java_dir/target/conformance.classpath")" \\
  dev.workpool.conformance.Runner "\$@"
RUNNER
chmod +x "$runner"
echo "conformance runner: $runner"
