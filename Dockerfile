# syntax=docker/dockerfile:1
# PayScope's image: both binaries (payscope-http, payscope-worker) on a slim Debian runtime,
# running as a non-root user. The compose file picks the binary with `command`.

# --- build -------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies first, against placeholder sources, so this layer is rebuilt only when a
# manifest or Cargo.lock changes. (Cargo wants every declared target to exist.)
COPY Cargo.toml Cargo.lock ./
COPY payscope-core/Cargo.toml payscope-core/
COPY payscope-http/Cargo.toml payscope-http/
COPY payscope-worker/Cargo.toml payscope-worker/
RUN set -eux; \
    for crate in . payscope-core payscope-http payscope-worker; do \
      mkdir -p "$crate/src"; echo '' > "$crate/src/lib.rs"; \
    done; \
    echo 'fn main() {}' > payscope-http/src/main.rs; \
    echo 'fn main() {}' > payscope-worker/src/main.rs; \
    rm payscope-worker/src/lib.rs; \
    mkdir -p benches examples payscope-core/tests/it payscope-http/tests/it payscope-worker/tests/it; \
    for f in benches/metrics benches/ingest benches/ask examples/pg_bench \
             payscope-core/tests/it/main payscope-http/tests/it/main payscope-worker/tests/it/main; do \
      echo 'fn main() {}' > "$f.rs"; \
    done; \
    cargo build --release --locked -p payscope-http -p payscope-worker; \
    rm -rf src payscope-*/src

# The real sources.
COPY . .
RUN set -eux; \
    touch payscope-core/src/lib.rs payscope-http/src/lib.rs payscope-http/src/main.rs payscope-worker/src/main.rs; \
    cargo build --release --locked -p payscope-http -p payscope-worker

# --- runtime -----------------------------------------------------------------------------
FROM debian:bookworm-slim
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl; \
    rm -rf /var/lib/apt/lists/*; \
    useradd --system --uid 10001 --user-group --home-dir /var/lib/payscope --create-home payscope
COPY --from=build /src/target/release/payscope-http /src/target/release/payscope-worker /usr/local/bin/
USER payscope
WORKDIR /var/lib/payscope
ENV PAYSCOPE_DATA_DIR=/var/lib/payscope \
    PAYSCOPE_ADDR=0.0.0.0:8000 \
    PAYSCOPE_WORKER_ADDR=0.0.0.0:8001 \
    PAYSCOPE_LOG_FORMAT=json
EXPOSE 8000 8001
# Liveness of whichever binary runs: the API on 8000, the worker on 8001 (compose overrides
# this with readiness checks per service).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8000/health/live || curl -fsS http://127.0.0.1:8001/health/live || exit 1
CMD ["payscope-http"]
