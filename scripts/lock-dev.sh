#!/usr/bin/env bash
# Regenerate the hash-locked dev environment from requirements/*.in (pip-compile in a tool venv).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=.venv-lock
if [ ! -x "$tool/bin/pip-compile" ]; then
  python3.11 -m venv "$tool"
  "$tool/bin/pip" install --disable-pip-version-check -q "pip-tools==7.5.2"
fi
echo "==> locking requirements/dev.txt"
"$tool/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
  --no-emit-index-url --no-emit-find-links -o requirements/dev.txt requirements/dev.in
echo "==> locking requirements/gluonnlp.txt (constrained by dev.txt; installed without build isolation)"
"$tool/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links \
  -o requirements/gluonnlp.txt requirements/gluonnlp.in
