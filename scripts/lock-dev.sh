#!/usr/bin/env bash
# Regenerate the hash-locked files in requirements/ from their .in files, with pip-compile from
# the lock-tools venv (LOCK_VENV, made by `make lock` from requirements/lock-tools.txt).
# Every lock is installed with --require-hashes --no-deps, so each must be complete: pip-compile
# writes the whole closure, and the installs run `pip check` (or images/check-closure.py).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${LOCK_VENV:-.venv-lock}
[ -f "$tool/.installed" ] || { echo "lock-dev.sh: $tool is not installed; run \`make lock\`" >&2; exit 1; }
compile() { # compile <in> <out> [pip-compile flags]
  local in=$1 out=$2
  shift 2
  echo "==> locking $out"
  "$tool/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --no-emit-index-url \
    --no-emit-find-links "$@" -o "$out" "$in"
}
compile requirements/dev.in requirements/dev.txt --strip-extras
# constrained by dev.txt; installed --no-deps without build isolation
compile requirements/gluonnlp.in requirements/gluonnlp.txt
compile requirements/bench.in requirements/bench.txt --strip-extras
compile requirements/lock-tools.in requirements/lock-tools.txt --strip-extras
