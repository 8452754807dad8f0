#!/usr/bin/env bash
# Make a Docker engine available: install docker.io, docker-compose and debootstrap via apt when
# missing, start dockerd in the background when it is not running, and wait until it answers.
# Idempotent: when `docker info` already works it only says so. DOCKER_WAIT sets the timeout (s).
set -euo pipefail
timeout=${DOCKER_WAIT:-60}
log=${DOCKERD_LOG:-/tmp/dockerd.log}
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"

missing=()
command -v docker >/dev/null || missing+=(docker.io)
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} (apt)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
  echo "==> docker engine is running ($(docker version -f '{{.Server.Version}}'))"
  exit 0
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "==> starting dockerd in the background (log: $log)"
  ($sudo dockerd >"$log" 2>&1 &)
fi
for _ in $(seq "$timeout"); do
  if docker info >/dev/null 2>&1; then
    echo "==> docker engine is running ($(docker version -f '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "error: the docker engine did not answer within ${timeout}s. See $log; on a machine" \
  "without root, start Docker yourself (e.g. 'sudo systemctl start docker') and retry." >&2
exit 1
