# The exporter package and its CLI as an image: docker-compose.yml runs the demo API (app),
# the load generator (loadgen) and the Alertmanager webhook receiver (webhook) from it.
#
#   docker build -t api-perf-exporter .                           # CPU
#   docker build --build-arg EXTRAS=demo,gpu -t api-perf-exporter:gpu .   # with NVML bindings
FROM python:3.12-slim-bookworm

# optional dependency groups of pyproject.toml to install
ARG EXTRAS=demo

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROMETHEUS_DISABLE_CREATED_SERIES=True

WORKDIR /src
# only what the package build reads, so editing tests or docs does not rebuild the image
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install ".[${EXTRAS}]" \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin exporter

USER exporter
EXPOSE 8000
# inside a container the demo must listen on all interfaces (its default is 127.0.0.1)
CMD ["exporter", "demo", "--host", "0.0.0.0", "--port", "8000"]
