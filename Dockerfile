# One image, both programs. The default entrypoint is the node agent; run the
# controller with `--entrypoint wg-controller` (see docs/DEPLOYMENT.md).
# SQLite needs cgo, so the build stage has gcc and the runtime stage glibc.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/wg-agent ./cmd/wg-agent \
 && CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/wg-controller ./cmd/wg-controller

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/wgfleet --shell /usr/sbin/nologin wgfleet \
 && install -d -o wgfleet -g wgfleet -m 0700 /var/lib/wg-agent /var/lib/wg-controller
COPY --from=build /out/wg-agent /out/wg-controller /usr/local/bin/
# Unprivileged by default: `--mode auto` then picks netstack. For TUN mode run
# with `--user 0 --cap-add NET_ADMIN --device /dev/net/tun`.
USER wgfleet
ENV WG_AGENT_STATE_DIR=/var/lib/wg-agent
VOLUME ["/var/lib/wg-agent", "/var/lib/wg-controller"]
EXPOSE 8080/tcp 51820/udp 10086/tcp
ENTRYPOINT ["/usr/local/bin/wg-agent"]
