#!/usr/bin/env bash
# Build the local Lambda-compatible base images (this machine cannot pull public.ecr.aws):
#   1. lambda-nlp/rootfs:bookworm        debootstrap --variant=minbase bookworm + python3.11, docker import
#   2. lambda-nlp/lambda-python:3.11      images/base/runtime.Dockerfile (RIE, awslambdaric, entrypoint)
#   3. lambda-nlp/build-python:3.11       images/base/build.Dockerfile (gcc, python3.11-dev; builds only)
# Idempotent: each image carries a label with the hash of its inputs and is skipped when present
# and unchanged. Set FORCE=1 to rebuild everything from nothing (Docker's layer cache unused, so
# pip installs the locks again: what a fresh machine does; `make ... NO_CACHE=1` sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOTFS_IMAGE=${ROOTFS_IMAGE:-lambda-nlp/rootfs:bookworm}
RUNTIME_IMAGE=${RUNTIME_IMAGE:-lambda-nlp/lambda-python:3.11}
BUILD_IMAGE=${BUILD_IMAGE:-lambda-nlp/build-python:3.11}
CACHE=${LAMBDA_NLP_CACHE:-/var/cache/lambda-nlp}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3.11,python3-pip,ca-certificates
# The RIE ships inside the aws-sam-cli wheel; pin the wheel and its sha256 (PyPI's published hash).
SAM_VERSION=1.170.0
SAM_SHA256=24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf
RIE_PATH=samcli/local/rapid/aws-lambda-rie-x86_64
HOST_CA=${HOST_CA:-/etc/ssl/certs/ca-certificates.crt}
LABEL_KEY=org.lambda-nlp.inputs

step() { printf '==> %s\n' "$*"; }
have_current() { # have_current <image> <hash>: the image exists and was built from these inputs
  [ "${FORCE:-0}" != 1 ] &&
    [ "$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$1" 2>/dev/null)" = "$2" ]
}
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

mkdir -p "$CACHE"
no_cache=()
[ "${FORCE:-0}" != 1 ] || no_cache=(--no-cache)

# 1. Root filesystem.
rootfs_hash=$(printf 'bookworm minbase %s %s' "$PACKAGES" "$MIRROR" | sha256sum | cut -c1-16)
if have_current "$ROOTFS_IMAGE" "$rootfs_hash"; then
  step "$ROOTFS_IMAGE is up to date"
else
  rootfs="$CACHE/rootfs-$rootfs_hash"
  if [ ! -f "$rootfs/.complete" ]; then
    command -v debootstrap >/dev/null || { echo "debootstrap is missing: run scripts/ensure-docker.sh" >&2; exit 1; }
    step "debootstrap bookworm (minbase + $PACKAGES) into $rootfs (about a minute)"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR" |
      grep -E '^I: (Retrieving|Installing core|Base system)' | awk 'NR % 20 == 1 || /Base system/'
    # Docs, man pages, locales and the .deb cache are dead weight in a function image.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    touch "$rootfs/.complete"
  fi
  step "docker import $ROOTFS_IMAGE"
  tar --exclude=./.complete -C "$rootfs" -c . |
    docker import -c "LABEL $LABEL_KEY=$rootfs_hash" -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$ROOTFS_IMAGE" >/dev/null
fi

# 2. The runtime base: context = images/base + the RIE + the host CA bundle (builder stage only).
ctx="$CACHE/base-context"
rm -rf "$ctx" && mkdir -p "$ctx"
cp images/base/runtime.Dockerfile images/base/build.Dockerfile images/base/lambda-entrypoint.sh \
  images/base/requirements.txt images/check-closure.py "$ctx/"
cp "$HOST_CA" "$ctx/host-ca.crt"
wheel="$CACHE/aws_sam_cli-$SAM_VERSION-py3-none-any.whl"
if ! echo "$SAM_SHA256  $wheel" | sha256sum -c --status 2>/dev/null; then
  step "downloading aws-sam-cli==$SAM_VERSION (for the Runtime Interface Emulator)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$CACHE" "aws-sam-cli==$SAM_VERSION"
  echo "$SAM_SHA256  $wheel" | sha256sum -c --quiet ||
    { echo "aws-sam-cli wheel hash mismatch: refusing to use its RIE" >&2; exit 1; }
fi
python3 - "$wheel" "$RIE_PATH" "$ctx/aws-lambda-rie" <<'PY'
import sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf, open(out, "wb") as fh:
    fh.write(zf.read(member))
PY
chmod 755 "$ctx/aws-lambda-rie" "$ctx/lambda-entrypoint.sh"

root_id=$(docker image inspect -f '{{.Id}}' "$ROOTFS_IMAGE")
runtime_hash=$( (echo "$root_id"; cd "$ctx" && cat runtime.Dockerfile lambda-entrypoint.sh requirements.txt check-closure.py aws-lambda-rie) | sha256sum | cut -c1-16)
if have_current "$RUNTIME_IMAGE" "$runtime_hash"; then
  step "$RUNTIME_IMAGE is up to date"
else
  step "building $RUNTIME_IMAGE"
  bash scripts/docker-build.sh "${no_cache[@]}" --label "$LABEL_KEY=$runtime_hash" --build-arg "ROOTFS_IMAGE=$ROOTFS_IMAGE" \
    -f "$ctx/runtime.Dockerfile" -t "$RUNTIME_IMAGE" "$ctx" >/dev/null
fi

# 3. The build base.
runtime_id=$(docker image inspect -f '{{.Id}}' "$RUNTIME_IMAGE")
build_hash=$( (echo "$runtime_id"; cat "$ctx/build.Dockerfile" "$ctx/host-ca.crt") | sha256sum | cut -c1-16)
if have_current "$BUILD_IMAGE" "$build_hash"; then
  step "$BUILD_IMAGE is up to date"
else
  step "building $BUILD_IMAGE (apt: gcc, python3.11-dev)"
  bash scripts/docker-build.sh "${no_cache[@]}" --label "$LABEL_KEY=$build_hash" --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE" \
    -f "$ctx/build.Dockerfile" -t "$BUILD_IMAGE" "$ctx" >/dev/null
fi
for image in "$ROOTFS_IMAGE" "$RUNTIME_IMAGE" "$BUILD_IMAGE"; do
  docker image ls --format '    {{.Repository}}:{{.Tag}}  {{.Size}}' "$image"
done
