# softdel: a PostgreSQL wire-protocol proxy that makes deletes recoverable.
#
#   docker build -t softdel .
#   docker run --rm -p 6432:6432 -e SOFTDEL_UPSTREAM=db:5432 softdel
#
# Build stage: a release build with the dependency graph cached separately
# from the sources.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked

# Runtime stage: the binary alone, as an unprivileged user.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --no-create-home softdel
COPY --from=build /src/target/release/softdel /usr/local/bin/softdel
USER softdel
ENV SOFTDEL_LISTEN=0.0.0.0:6432 \
    SOFTDEL_UPSTREAM=postgres:5432
EXPOSE 6432
ENTRYPOINT ["/usr/local/bin/softdel"]
CMD ["proxy"]
