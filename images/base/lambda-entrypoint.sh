#!/bin/sh
# The entrypoint contract of the AWS Lambda base images, for the local base.
# On Lambda (AWS_LAMBDA_RUNTIME_API is set) run the runtime interface client directly; anywhere
# else wrap it in the Runtime Interface Emulator, which serves the invoke API on port 8080.
# The handler comes from the image's CMD, e.g. CMD ["app.main.handler"].
if [ $# -lt 1 ]; then
  echo "lambda-entrypoint: give the handler as the first argument (CMD [\"module.function\"])" >&2
  exit 142
fi
export _HANDLER="$1"
if [ -z "${AWS_LAMBDA_RUNTIME_API:-}" ]; then
  exec /usr/local/bin/aws-lambda-rie /var/lang/bin/python3 -m awslambdaric "$@"
fi
exec /var/lang/bin/python3 -m awslambdaric "$@"
