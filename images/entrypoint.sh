#!/bin/sh
# The entrypoint of the function images: one image, both designs.
#   docker run IMAGE serve      SageMaker hosting (Design 1): app.serve on port 8080
#   anything else               the Lambda entrypoint, unchanged (Design 2; the RIE locally)
if [ "${1:-}" = "serve" ]; then
  shift
  cd "${LAMBDA_TASK_ROOT:-/var/task}" || exit 1
  exec python3 -m app.serve "$@"
fi
exec /lambda-entrypoint.sh "$@"
