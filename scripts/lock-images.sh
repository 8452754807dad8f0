#!/usr/bin/env bash
# Regenerate the hash-locked requirement files of the images from images/*/*.in (pip-compile).
# The locks target CPython 3.11 on x86_64 Linux, which is what both the AWS and the local base run.
# Usage: scripts/lock-images.sh [base|ner|qa|front ...]   (no argument: every image)
set -euo pipefail
cd "$(dirname "$0")/.."
tool=${LOCK_VENV:-.venv-lock}
[ -f "$tool/.installed" ] || { echo "lock-images.sh: $tool is not installed; run \`make locks\`" >&2; exit 1; }
lock() { # lock <in> <out>
  echo "==> locking $2"
  "$tool/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
    --no-emit-find-links --no-header --annotation-style=line -o "$2" "$1"
}
lock_base() {
  lock images/base/requirements.in images/base/requirements.txt
}
lock_ner() {
  lock images/ner/requirements.in images/ner/requirements.txt
}
lock_qa() {
  lock images/qa/requirements.in images/qa/requirements.txt
  lock images/qa/requirements-mxnet-mkl.in images/qa/requirements-mxnet-mkl.txt
  lock images/qa/build.in images/qa/build.txt
  # gluonnlp is installed --no-deps: keep only its own hash-pinned block of the lock.
  lock images/qa/gluonnlp.in images/qa/gluonnlp.full.txt
  awk '/^gluonnlp==/{keep=1} keep && !/^ *(--hash|#)/ && !/^gluonnlp==/{keep=0} keep' \
    images/qa/gluonnlp.full.txt > images/qa/gluonnlp.txt
  rm images/qa/gluonnlp.full.txt
}
lock_front() { # Design 1's thin front function (botocore + powertools only)
  lock images/front/requirements.in images/front/requirements.txt
}
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(base ner qa front)
for image in "${images[@]}"; do
  case "$image" in
    base | ner | qa | front) "lock_$image" ;;
    *) echo "lock-images.sh: unknown image '$image' (base, ner, qa, front)" >&2; exit 2 ;;
  esac
done
