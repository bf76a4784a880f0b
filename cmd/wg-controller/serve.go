package main

import (
	"context"
	"errors"
	"io"

	"github.com/wgfleet/wgfleet/controller"
)

// serve runs the controller until ctx is done (SIGINT, SIGTERM); with
// --local-node, a node's agent in the same process, stopped after the
// controller.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, local, err := loadServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	c, err := controller.New(ctx, cfg)
	if err != nil {
		return err
	}
	if local == nil {
		return c.Run(ctx)
	}
	ln, err := startLocalNode(ctx, c, *local, cfg, cfg.Logger)
	if err != nil {
		return errors.Join(err, c.Close())
	}
	return errors.Join(c.Run(ctx), ln.Close())
}
