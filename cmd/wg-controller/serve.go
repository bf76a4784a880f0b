package main

import (
	"context"
	"io"

	"github.com/wgfleet/wgfleet/controller"
)

// serve runs the controller until ctx is done (SIGINT, SIGTERM).
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	c, err := controller.New(ctx, cfg)
	if err != nil {
		return err
	}
	return c.Run(ctx)
}
