#!/usr/bin/env bash
# `docker build -q "$@"` without the classic builder's deprecation banner (docker.io 20.10 has no
# buildx here; the Dockerfiles stay classic-builder compatible). Prints the image id.
set -uo pipefail
docker build -q "$@" 2> >(grep -vE '^DEPRECATED: The legacy builder|Install the buildx component|docs.docker.com/go/buildx|^\s*$' >&2)
