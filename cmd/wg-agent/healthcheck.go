package main

import (
	"context"
	"io"
	"net"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/internal/cli"
	"github.com/wgfleet/wgfleet/internal/httpserve"
)

// healthcheck is `wg-agent healthcheck`: it asks the agent listening on
// --listen (the same flag and environment as the agent's) for /healthz and
// fails unless it answers 200, over HTTPS when --tls (WG_AGENT_TLS) is not
// off. It is the container image's HEALTHCHECK.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := cli.NewSet("wg-agent healthcheck", stderr)
	s.SetUsage("usage: wg-agent healthcheck [--listen ADDR] [--tls MODE]\nExits 0 when the agent on ADDR answers GET /healthz with 200.")
	listen := cli.String(s, "listen", "WG_AGENT_LISTEN", agent.DefaultListen, "the agent's API listen address; WG_AGENT_PORT alone sets only the port")
	tlsMode := cli.Var(s, "tls", "WG_AGENT_TLS", agent.TLSConfig{Mode: agent.TLSOff}, agent.ParseTLS, "the agent's --tls: anything but off asks over HTTPS (the certificate is not checked)")
	if err := s.Parse(args, getenv); err != nil {
		return err
	}
	addr := listen.Get()
	if port := getenv("WG_AGENT_PORT"); port != "" && !listen.Given() {
		addr = net.JoinHostPort("", port)
	}
	if tlsMode.Get().Mode != agent.TLSOff {
		return httpserve.CheckHealthzTLS(ctx, addr)
	}
	return httpserve.CheckHealthz(ctx, addr)
}
