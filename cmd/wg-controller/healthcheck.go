package main

import (
	"context"
	"io"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/internal/cli"
	"github.com/wgfleet/wgfleet/internal/httpserve"
)

// healthcheck is `wg-controller healthcheck`: it asks the controller
// listening on --listen (the same flag and environment as serve's) for
// /healthz and fails unless it answers 200. It is what the container image's
// HEALTHCHECK runs for the controller.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	s := cli.NewSet("wg-controller healthcheck", stderr)
	s.SetUsage("usage: wg-controller healthcheck [--listen ADDR]\nExits 0 when the controller on ADDR answers GET /healthz with 200.")
	listen := cli.String(s, "listen", "WG_CONTROLLER_LISTEN", controller.DefaultListen, "the controller's listen address")
	if err := s.Parse(args, getenv); err != nil {
		return err
	}
	return httpserve.CheckHealthz(ctx, listen.Get())
}
