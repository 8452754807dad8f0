# The local stand-in for public.ecr.aws/lambda/python:3.11, built on a debootstrapped Debian
# bookworm root filesystem (ROOTFS_IMAGE, made by scripts/build-base-images.sh).
# It keeps the AWS base's contract: LAMBDA_TASK_ROOT=/var/task, LAMBDA_RUNTIME_DIR=/var/runtime,
# python3.11 at /var/lang/bin, awslambdaric, and /lambda-entrypoint.sh that runs the RIE locally.
ARG ROOTFS_IMAGE=lambda-nlp/rootfs:bookworm

# Install the runtime interface client (hash-locked) in a throwaway stage: the host CA bundle
# that pip needs on this network never reaches the final image.
FROM ${ROOTFS_IMAGE} AS ric
COPY host-ca.crt /etc/ssl/certs/host-ca.crt
COPY requirements.txt check-closure.py /tmp/
# Exactly the lock (--no-deps: pip resolves nothing), then a check that the lock is complete.
RUN python3.11 -m pip install --no-cache-dir --disable-pip-version-check --no-compile \
      --cert /etc/ssl/certs/host-ca.crt --only-binary=:all: --require-hashes --no-deps \
      --target /var/runtime -r /tmp/requirements.txt \
 && python3.11 /tmp/check-closure.py /var/runtime

FROM ${ROOTFS_IMAGE}
ENV LANG=C.UTF-8 \
    TZ=:/etc/localtime \
    PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin \
    LAMBDA_TASK_ROOT=/var/task \
    LAMBDA_RUNTIME_DIR=/var/runtime \
    LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib
# python3.11 and python3 resolve to the same interpreter as on the AWS base (/var/lang/bin);
# /var/runtime is on sys.path for every process, after the task root, as on Lambda.
RUN mkdir -p /var/lang/bin /var/task /var/runtime /opt/bin \
 && ln -s /usr/bin/python3.11 /var/lang/bin/python3.11 \
 && ln -s /usr/bin/python3.11 /var/lang/bin/python3 \
 && ln -s /usr/bin/python3.11 /var/lang/bin/python \
 && echo /var/runtime > /usr/lib/python3/dist-packages/lambda-runtime.pth
COPY --from=ric /var/runtime /var/runtime
COPY aws-lambda-rie /usr/local/bin/aws-lambda-rie
COPY lambda-entrypoint.sh /lambda-entrypoint.sh
WORKDIR /var/task
ENTRYPOINT ["/lambda-entrypoint.sh"]
