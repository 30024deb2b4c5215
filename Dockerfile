# copydesk: one image for every process (worker, sink, topics, seed); the subcommand picks which.
#   docker build -t copydesk .
#   docker run --rm copydesk --help
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid so named volumes keep the same owner across rebuilds.
RUN groupadd --system --gid 10001 copydesk \
    && useradd --system --uid 10001 --gid copydesk --create-home --home-dir /home/copydesk copydesk \
    && mkdir -p /var/lib/copydesk/data /var/lib/copydesk/out \
    && chown -R copydesk:copydesk /var/lib/copydesk

WORKDIR /app

# Dependencies first, read from pyproject.toml alone: this layer (spaCy and its model are most of the
# image) is rebuilt only when the dependencies change, not on every source edit.
COPY pyproject.toml ./
RUN python -c 'import sys, tomllib; print(*tomllib.load(sys.stdin.buffer)["project"]["dependencies"], sep="\n")' \
        < pyproject.toml > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# pyproject.toml names README.md as the long description; the glob keeps the build going without it
# (setuptools only warns), since BuildKit allows a COPY wildcard that matches nothing.
COPY README.md* ./
COPY pipeline/ pipeline/
COPY schemas/ schemas/
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info

# The sample articles, for `copydesk seed /app/seeds --feed seeds`.
COPY seeds/ seeds/

# Faust tables (rocksdb) and the sink's SQLite/JSONL. No VOLUME here: it would leave an anonymous
# volume behind every one-shot container; compose mounts named volumes, which take these directories'
# owner because they exist in the image.
ENV COPYDESK_DATA_DIR=/var/lib/copydesk/data \
    COPYDESK_SINK__OUT_DIR=/var/lib/copydesk/out

USER 10001:10001

# Prometheus /metrics: the worker on 9101, the sink on 9102 (pipeline.settings.MetricsSettings).
EXPOSE 9101 9102

ENTRYPOINT ["copydesk"]
CMD ["--help"]
