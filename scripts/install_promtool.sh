#!/usr/bin/env bash
# Install promtool, Prometheus's rule checker, into tools/promtool for the
# alert-rule tests (tests/test_prometheus_rules.py).
#
# It takes the binary out of Debian's `prometheus` package with
# `apt-get download` and `dpkg-deb -x` instead of `apt-get install`, because
# installing the package would also set up, and may start, a Prometheus
# server listening on port 9090. Nothing is done when promtool is on PATH or
# already in tools/promtool. When the package cannot be fetched (no apt, no
# network), it prints a warning and exits 0, and the tests skip with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

target=tools/promtool
binary="$target/usr/bin/promtool"

if command -v promtool >/dev/null 2>&1; then
  echo "install_promtool: using $(command -v promtool)"
  exit 0
fi
if [ -x "$binary" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "install_promtool: apt-get or dpkg-deb is missing; the promtool tests will skip" >&2
  exit 0
fi

download="$(mktemp -d)"
trap 'rm -rf "$download"' EXIT
# apt fetches as the unprivileged _apt user when it exists, which needs write
# access to the folder; otherwise it warns and downloads as root.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
  chown _apt "$download"
fi
fetch() {
  (cd "$download" && apt-get download prometheus)
}
# A fresh machine may have no package lists yet; only root can update them.
if ! fetch && [ "$(id -u)" -eq 0 ]; then
  apt-get update
  fetch || true
fi

package=$(find "$download" -name 'prometheus_*.deb' | head -n 1)
if [ -z "$package" ]; then
  echo "install_promtool: could not download Debian's prometheus package; the promtool tests will skip" >&2
  exit 0
fi
rm -rf "$target"
mkdir -p "$target"
dpkg-deb -x "$package" "$target"
# Only promtool is needed; the server binary and its web assets are not.
find "$target" -mindepth 1 -maxdepth 1 ! -name usr -exec rm -rf {} +
find "$target/usr" -mindepth 1 -maxdepth 1 ! -name bin -exec rm -rf {} +
find "$target/usr/bin" -mindepth 1 ! -name promtool -exec rm -rf {} +
"$binary" --version | head -n 1
