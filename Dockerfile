# syntax=docker/dockerfile:1
#
# softdel: a PostgreSQL wire-protocol proxy that makes deletes recoverable.
#
#   docker build -t softdel .
#   docker run --rm -p 6432:6432 -e SOFTDEL_UPSTREAM=db.internal:5432 softdel
#
# Configured like the command line, by SOFTDEL_* environment variables
# (`docker run --rm softdel proxy --help` lists them). The entrypoint is the
# softdel binary, so other commands run the same way:
#
#   docker run --rm softdel init --database-url postgres://admin:secret@db.internal:5432/app
#
# Build and runtime stages share one Debian release, so the binary finds the
# glibc it was linked against. The Rust version is the one the project is
# tested with; both are build arguments.
ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# Build stage: a release build. The registry and target directories are
# BuildKit cache mounts, so a change to the sources recompiles softdel alone.
# The manifest names the bench target and the demo embeds rules/example.yaml,
# so both are part of the build. The C compiler of this image builds ring.
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY rules ./rules
COPY src ./src
# Debug info stripped (symbols kept, so panics still name functions): the
# binary is a quarter of the size.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo cargo build --release --locked --bin softdel \
    && install -D -m 0755 target/release/softdel /out/softdel

# Runtime stage: the binary, the CA bundle and an unprivileged user.
FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates is not pinned to a version (DL3008): the trust store has to
# follow Debian's updates, as the -slim tag follows its point releases.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 softdel \
    && useradd --system --uid 10001 --gid softdel --no-create-home \
        --home-dir /var/lib/softdel --shell /usr/sbin/nologin softdel \
    && install -d -o softdel -g softdel -m 0750 /var/lib/softdel
COPY --from=build /out/softdel /usr/local/bin/softdel
USER 10001:10001
# The user's own directory: refused statements go to the blocked log here
# when there is no journal URL. Mount a volume on it to keep them.
WORKDIR /var/lib/softdel
ENV SOFTDEL_LISTEN=0.0.0.0:6432 \
    SOFTDEL_ADMIN_LISTEN=0.0.0.0:9930 \
    SOFTDEL_BLOCKED_LOG=/var/lib/softdel/softdel-blocked.jsonl
# 6432: PostgreSQL clients; 9930: admin HTTP (/metrics, /healthz, /readyz).
EXPOSE 6432 9930
ENTRYPOINT ["/usr/local/bin/softdel"]
CMD ["proxy"]
