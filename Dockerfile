# syntax=docker/dockerfile:1
#
# The serverops operator image. Build it from the repository root:
#
#   docker build -t serverops:0.1.0 .
#
# The first stage builds a wheel of this repository and installs it into a virtual
# environment; the second copies only that environment onto the same base image. The
# image runs as the numeric user 10001 and writes nothing outside /tmp, so it runs with
# readOnlyRootFilesystem when /tmp is an emptyDir (the chart and manifests/ mount one).
#
# The base image is pinned to an exact Python and Debian release. To pin the digest as
# well, look it up where the image is pulled and set it, for example:
#   docker build --build-arg PYTHON_IMAGE=python:3.11.11-slim-bookworm@sha256:<digest> .
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m pip install build==1.2.2.post1
# setuptools reads pyproject.toml, README.md (the package's long description), the
# package under operator/ and the CRD manifests under crds/ (package data).
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY crds/ crds/
RUN python -m build --wheel --outdir /dist . \
    && python -m venv /opt/serverops \
    && /opt/serverops/bin/pip install /dist/*.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="serverops" \
      org.opencontainers.image.description="Kubernetes operator with the deletion contract of OpenStack Nova" \
      org.opencontainers.image.licenses="Apache-2.0"
# No .pyc files at run time (the root filesystem is read-only) and unbuffered logs.
ENV PATH=/opt/serverops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/serverops /opt/serverops
USER 10001:10001
# 9443: admission webhook (HTTPS), 8080: Prometheus metrics, 8081: kopf liveness.
EXPOSE 9443 8080 8081
ENTRYPOINT ["serverops"]
CMD ["run", "--all-namespaces"]
