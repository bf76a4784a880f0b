// Command wg-agent runs WireGuard on a node and serves the signed agent API.
// See docs/DEPLOYMENT.md and `wg-agent -h`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/internal/cli"
	"github.com/wgfleet/wgfleet/internal/version"
)

func main() { cli.Main("wg-agent", run) }

const usage = `usage:
  wg-agent [flags]          run the agent
  wg-agent --version        print the version, commit and build date
  wg-agent healthcheck      exit 0 when the local agent answers /healthz`

// run is the whole program: load the configuration, start the agent, serve
// until ctx is done. SIGHUP re-reads the secret file. stdout carries only
// the --version text.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], getenv, stderr)
	}
	o, err := loadOptions(args, getenv, stderr)
	if err != nil {
		return err
	}
	if o.showVersion {
		_, err := fmt.Fprintln(stdout, version.Get().Describe("wg-agent"))
		return err
	}
	log := cli.NewLogger(stderr, o.logFormat, o.logLevel)
	o.cfg.Logger = log
	if err := join(ctx, &o, log); err != nil {
		return err
	}
	a, err := agent.New(o.cfg)
	if err != nil {
		return err
	}
	if o.secretFile != "" {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					secrets, err := loadSecrets(o.secretFile, "")
					if err == nil && o.enrolled != nil {
						secrets = append(secrets, []byte(o.enrolled.Secret)) // the enrollment's stays
					}
					if err == nil {
						err = a.SetSecrets(secrets)
					}
					if err != nil {
						log.Error("reloading secrets failed; keeping the old ones", "err", err)
						continue
					}
					log.Info("secrets reloaded", "count", len(secrets))
				}
			}
		}()
	}
	return a.Run(ctx)
}
