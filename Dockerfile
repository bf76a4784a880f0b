# Both programs, two targets of one build:
#   docker build -t wgfleet-agent .                                  (the default: the node agent)
#   docker build --target controller -t wgfleet-controller .
# Each target has its own entrypoint and HEALTHCHECK (`healthcheck`
# subcommand: GET /healthz, as the image has no curl). See docs/DEPLOYMENT.md.
# SQLite needs cgo, so the build stage has gcc and the runtime stage glibc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The build has no .git (.dockerignore): pass what --version prints, e.g.
#   --build-arg VERSION=1.2.0 --build-arg COMMIT=$(git rev-parse HEAD) --build-arg DATE=$(date -u +%FT%TZ)
ARG VERSION=""
ARG COMMIT=""
ARG DATE=""
RUN V=github.com/wgfleet/wgfleet/internal/version \
 && LDFLAGS="-s -w -X $V.version=$VERSION -X $V.commit=$COMMIT -X $V.date=$DATE" \
 && CGO_ENABLED=1 go build -trimpath -ldflags="$LDFLAGS" -o /out/wg-agent ./cmd/wg-agent \
 && CGO_ENABLED=1 go build -trimpath -ldflags="$LDFLAGS" -o /out/wg-controller ./cmd/wg-controller

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 wgfleet \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/wgfleet --shell /usr/sbin/nologin wgfleet \
 && install -d -o wgfleet -g wgfleet -m 0700 /var/lib/wg-agent /var/lib/wg-controller
COPY --from=build /out/wg-agent /out/wg-controller /usr/local/bin/
# Unprivileged by default: the agent's `--mode auto` then picks netstack.
# For TUN mode run with `--user 0 --cap-add NET_ADMIN --device /dev/net/tun`.
USER 10001:10001
# Both listen on every address of the container, where a published port
# (-p) reaches them.
ENV WG_AGENT_STATE_DIR=/var/lib/wg-agent \
    WG_CONTROLLER_DATA_DIR=/var/lib/wg-controller \
    WG_CONTROLLER_LISTEN=:10086

FROM runtime AS controller
VOLUME ["/var/lib/wg-controller"]
EXPOSE 10086/tcp
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/wg-controller", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/wg-controller"]
CMD ["serve"]

FROM runtime AS agent
VOLUME ["/var/lib/wg-agent"]
EXPOSE 8080/tcp 51820/udp
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/wg-agent", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/wg-agent"]
