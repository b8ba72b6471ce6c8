# syntax=docker/dockerfile:1
# A static musl binary on `scratch`: no shell, no libc, no curl. The dashboard and its
# wasm are embedded in the binary; time-zone data is compiled in (chrono-tz); TLS roots
# come from webpki-roots. CI builds the same static binary without Docker
# (`cargo xtask musl`) and runs its healthcheck.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The page build needs only uPlot; the npm dev dependencies are for the test suites.
ENV NPM_CONFIG_OMIT=dev
COPY . .
# Rust targets, the pinned wasm-bindgen CLI and wasm-pack, then pulse-wasm and web/dist.
RUN cargo xtask setup && cargo xtask web
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p pulse-host \
 && mkdir -p /out/data \
 && cp target/x86_64-unknown-linux-musl/release/litellm-pulse /out/litellm-pulse

FROM scratch
COPY --from=build /out/litellm-pulse /litellm-pulse
COPY --from=build --chown=65532:65532 /out/data /app/data
USER 65532:65532
WORKDIR /app
ENV LITELLM_PULSE_DB_PATH=/app/data/litellm_pulse.db
VOLUME ["/app/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/litellm-pulse", "healthcheck"]
ENTRYPOINT ["/litellm-pulse"]
