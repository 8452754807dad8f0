#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the browser tests (tests/browser), installed with apt when
# missing: test tools' own browser downloads do not work on machines without a general internet.
# Idempotent: when both are present it says so and does nothing else.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "==> chromium and chromedriver present ($(chromium --version 2>/dev/null | head -1))"
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "==> installing chromium chromium-driver (apt)"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
  chromium chromium-driver >/dev/null
