# syntax=docker/dockerfile:1
# Latchkey: the server and its admin console, built from source; a small runtime image that
# runs as an unprivileged user. docker-compose.yml runs two of these on PostgreSQL. Needs
# BuildKit (cache mounts): crates and the build directory are kept from one build to the next.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
# The wasm-bindgen CLI at the version frontend/Cargo.lock pins (deploy/check_compose.py checks
# they agree), in a layer of its own: a change of the sources does not build it again.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo install wasm-bindgen-cli --version 0.2.130 --locked
COPY . .
# target/ is a cache mount, gone once this step ends: the binary is copied out of it.
# scripts/console finds the CLI above in target/tools.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    mkdir -p target/tools/bin /out \
    && ln -sf /usr/local/cargo/bin/wasm-bindgen target/tools/bin/wasm-bindgen \
    && scripts/console \
    && cargo build --release --locked -p latchkey-server \
    && strip -o /out/latchkey target/release/latchkey

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/latchkey --create-home latchkey
COPY --from=build /out/latchkey /usr/local/bin/latchkey
COPY --from=build /src/frontend/dist /usr/share/latchkey/console
ENV LATCHKEY_LISTEN=0.0.0.0:8080 \
    LATCHKEY_DATA_DIR=/var/lib/latchkey \
    LATCHKEY_CONSOLE_DIR=/usr/share/latchkey/console
USER latchkey
# The public port only: metrics are off unless LATCHKEY_METRICS_LISTEN is set, and then belong
# on a network of their own (docker-compose.yml).
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["latchkey"]
CMD ["serve"]
