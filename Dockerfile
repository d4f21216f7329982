# syntax=docker/dockerfile:1
#
# The gitops image: one static binary that is the CLI and every controller. The
# installation's Deployments (`gitops install`) run it as `gitops controller <name> …`
# from `ghcr.io/gitops-rs/gitops:v<version>` (`--registry`, `--version` to change that):
#
#   docker build -t ghcr.io/gitops-rs/gitops:v0.1.0 .
#
# The binary is linked statically against glibc and OpenSSL (the helm engine's crypto
# functions use libcrypto), so the final image needs no libraries: distroless/static brings
# the CA certificates, /etc/passwd and time zones, and nothing else (no shell). It runs as
# nobody (65534), as the Deployments ask, and writes only to the volumes they mount (/tmp,
# /data), so a read-only root filesystem is fine.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
# libssl-dev has the static libssl.a and libcrypto.a.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# crt-static links glibc statically; giving --target keeps build scripts and proc macros
# (which RUSTFLAGS then do not reach) dynamic, as they must be. After the build: check the
# binary is static and runs, and put it where the Deployments' `command: [gitops]` finds it
# on PATH (/usr/local/bin), with `/gitops` pointing to it for the entrypoint.
ENV OPENSSL_STATIC=1 \
    RUSTFLAGS="-C target-feature=+crt-static" \
    CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    set -eux; \
    target="$(rustc -vV | sed -n 's/^host: //p')"; \
    cargo build --release --locked -p gitops --bin gitops --target "$target"; \
    mkdir -p /out/usr/local/bin; \
    cp "target/$target/release/gitops" /out/usr/local/bin/gitops; \
    ldd /out/usr/local/bin/gitops 2>&1 | grep -qE 'statically linked|not a dynamic executable'; \
    /out/usr/local/bin/gitops --version; \
    ln -s /usr/local/bin/gitops /out/gitops

FROM gcr.io/distroless/static-debian12
COPY --from=builder /out/ /
USER 65534:65534
ENTRYPOINT ["/gitops"]
