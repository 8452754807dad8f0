# The local stand-in for public.ecr.aws/sam/build-python3.11: the runtime base plus a C
# compiler and the Python headers, used only by builder stages (never shipped).
ARG RUNTIME_IMAGE=lambda-nlp/lambda-python:3.11
FROM ${RUNTIME_IMAGE}
# pip and apt run behind this network's TLS inspection: trust the host CA bundle in builds.
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
ENV PIP_CERT=/etc/ssl/certs/host-ca.crt \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc g++ python3.11-dev \
 && rm -rf /var/lib/apt/lists/*
ENTRYPOINT []
CMD ["/bin/bash"]
