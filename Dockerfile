# Latchkey: the server and its admin console, built from source; a small runtime image that
# runs as an unprivileged user. docker-compose.yml runs two of these on PostgreSQL.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
COPY . .
RUN scripts/console \
    && cargo build --release --locked -p latchkey-server \
    && strip target/release/latchkey

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/latchkey --create-home latchkey
COPY --from=build /src/target/release/latchkey /usr/local/bin/latchkey
COPY --from=build /src/frontend/dist /usr/share/latchkey/console
ENV LATCHKEY_LISTEN=0.0.0.0:8080 \
    LATCHKEY_DATA_DIR=/var/lib/latchkey \
    LATCHKEY_CONSOLE_DIR=/usr/share/latchkey/console
USER latchkey
EXPOSE 8080 9000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["latchkey"]
CMD ["serve"]
