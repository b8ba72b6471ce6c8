# syntax=docker/dockerfile:1
# A static musl binary on `scratch`: no shell, no libc, no curl. The dashboard and its
# wasm are embedded in the binary; time-zone data is compiled in (chrono-tz); TLS roots
# come from webpki-roots.
#
# Multi-arch: `docker buildx build --platform linux/amd64,linux/arm64 -t litellm-pulse .`
# Both images are built on the build machine's own platform and cross-compiled for the
# image's (TARGETARCH), with `cargo xtask dist`, the same build CI runs and checks
# without Docker: `cargo xtask musl` (x86_64, with musl-gcc) and `cargo xtask arm64`
# (aarch64, with cargo-zigbuild, run under qemu). The pins below (toolchain, zig,
# cargo-zigbuild) are checked against rust-toolchain.toml and xtask by `cargo test -p xtask`.
ARG ZIGLANG=0.15.2
ARG CARGO_ZIGBUILD=0.24.0

# The wasm-bindgen version pinned in Cargo.toml, alone in a file, so that the layer
# installing its CLI is rebuilt only when that version changes.
FROM --platform=$BUILDPLATFORM debian:bookworm-slim AS pins
COPY Cargo.toml /pins/
RUN sed -n 's/^wasm-bindgen = "=\(.*\)"$/\1/p' /pins/Cargo.toml > /wasm-bindgen.version \
 && test -s /wasm-bindgen.version

# The build tools, in layers that do not depend on the sources.
FROM --platform=$BUILDPLATFORM rust:1.95.0-bookworm AS tools
ARG ZIGLANG
ARG CARGO_ZIGBUILD
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools nodejs npm python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY rust-toolchain.toml ./
RUN rustup target add wasm32-unknown-unknown x86_64-unknown-linux-musl aarch64-unknown-linux-musl
COPY --from=pins /wasm-bindgen.version /tmp/
RUN cargo install --locked wasm-bindgen-cli --version "=$(cat /tmp/wasm-bindgen.version)" \
 && cargo install --locked wasm-pack \
 && rm -rf /usr/local/cargo/registry
# zig (its `zig cc` compiles SQLite and ring for the target) and cargo-zigbuild, from PyPI.
RUN python3 -m venv /opt/zig \
 && /opt/zig/bin/pip install --no-cache-dir "ziglang==${ZIGLANG}" "cargo-zigbuild==${CARGO_ZIGBUILD}"
ENV PATH=/opt/zig/bin:$PATH

FROM tools AS build
ARG TARGETARCH
# The page build needs only uPlot; the npm dev dependencies are for the test suites.
ENV NPM_CONFIG_OMIT=dev
COPY . .
# The compiled dependencies stay in cache mounts (the crate registry and the target
# directory, which keeps each architecture apart under target/<triple>/), so a change
# to the sources rebuilds only the workspace crates. The binary is copied out of the
# mount in the same step.
RUN --mount=type=cache,id=litellm-pulse-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=litellm-pulse-target,target=/src/target,sharing=locked \
    cargo xtask web \
 && cargo xtask dist "${TARGETARCH}" /out/litellm-pulse \
 && mkdir -p /out/data

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
