# routec in a container: built in one stage, run in a small one as a non-root user. The time
# zone database is inside the binary, so the image needs no tzdata.
#   docker build -t routec .
#   docker run -p 8080:8080 -e ROUTEC_EXOTEL_TOKEN=... routec
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
 && target/release/routec check rules/

FROM debian:bookworm-slim
# CA certificates for CRMs over https.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/routec routec \
 && install -d -o routec -g routec /var/lib/routec
COPY --from=build /src/target/release/routec /usr/bin/routec
COPY packaging/routec.yaml /etc/routec/routec.yaml
COPY rules/ /etc/routec/rules/
USER 10001:10001
# Inside a container the listeners face the container's network. The admin listener stays on
# loopback unless ROUTEC_ADMIN_TOKEN (or a token file) is given with ROUTEC_ADMIN_LISTEN.
ENV ROUTEC_LISTEN=0.0.0.0:8080 \
    ROUTEC_LOG_FORMAT=json
# Probes: GET /healthz (live) and /readyz (a policy is loaded) on 8080.
EXPOSE 8080 9090
ENTRYPOINT ["/usr/bin/routec"]
CMD ["serve", "--config", "/etc/routec/routec.yaml"]
