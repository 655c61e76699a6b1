#!/usr/bin/env bash
# What a CI job needs on Debian 12 (container or runner), as root or with
# sudo: the few packages tgtsim's own installer needs, then `make deps`
# (tgtsim deps --install: compilers, lcov, python3-* ...).
# TGTSIM_APT_CACHE=DIR keeps the downloaded .deb files in DIR (a directory
# the CI caches between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ -n "${TGTSIM_APT_CACHE:-}" ]; then
  mkdir -p "$TGTSIM_APT_CACHE/partial"
  printf 'Dir::Cache::archives "%s";\nBinary::apt::APT::Keep-Downloaded-Packages "true";\n' \
    "$(realpath "$TGTSIM_APT_CACHE")" | $SUDO tee /etc/apt/apt.conf.d/90tgtsim-cache >/dev/null
fi
need=()
for pkg in make python3 python3-pytest python3-junitparser python3-lxml git xz-utils; do
  dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' || need+=("$pkg")
done
if ((${#need[@]})); then
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi
make deps
