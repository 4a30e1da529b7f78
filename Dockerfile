# syntax=docker/dockerfile:1
# kbgap in a container: `docker build -t kbgap .` then
#   docker run -d --name kbgap -p 8080:8080 -v kbgap-data:/data kbgap
#   docker exec kbgap kbgap token --roles Machine.ReadWrite.All,Software.Read.All,Vulnerability.Read.All

FROM rust:1.94-slim-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep downloaded crates and compiled dependencies between builds.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kbgap \
    && install -m 0755 target/release/kbgap /usr/local/bin/kbgap

FROM debian:bookworm-slim
# TLS roots are built into kbgap (rustls with webpki roots): no packages needed.
COPY --from=build /usr/local/bin/kbgap /usr/local/bin/kbgap
RUN groupadd --system --gid 10001 kbgap \
    && useradd --system --uid 10001 --gid kbgap --home-dir /data --shell /usr/sbin/nologin kbgap \
    && install -d -m 0700 -o kbgap -g kbgap /data
USER kbgap:kbgap
ENV KBGAP_DATA_DIR=/data \
    KBGAP_LISTEN=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
# The first start imports the bundled catalog (a few seconds): hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["kbgap"]
CMD ["serve"]
