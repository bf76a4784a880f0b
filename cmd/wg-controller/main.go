// Command wg-controller is the wgfleet dashboard: it keeps the fleet's
// desired state in SQLite (or PostgreSQL), drives the node agents and
// serves the web UI and REST API.
//
//	wg-controller serve  [flags]                  run the controller
//	wg-controller demo   [flags]                  controller + two netstack agents on loopback
//	wg-controller token create --name NAME        make an API token, printed once on stdout
//	wg-controller token list | revoke --id ID
//	wg-controller enroll-token create [--name] [--label k=v]... [--expires 1h]
//	                                                join token for a new node, printed once on stdout
//	wg-controller enroll-token list | revoke --id ID
//	wg-controller user add --name NAME --role ROLE | list | passwd --name NAME | rm --name NAME
//	                                                users of the UI and API (password on stdin)
//	wg-controller rekey  [--data-dir DIR]         rotate the master key (controller stopped)
//	wg-controller migrate-db --from DIR|URL --to URL|DIR   move an install between SQLite and PostgreSQL
//	wg-controller version                         print the version, commit and build date
//	wg-controller healthcheck [--listen ADDR]     exit 0 when the controller answers /healthz
//	wg-controller node list|show|add|edit|enable|disable|test|rm ...
//	wg-controller peer list|show|add|edit|rm|config|qr|move|restrict|allow ...
//	                                                the fleet through a running controller's API
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wgfleet/wgfleet/internal/cli"
	"github.com/wgfleet/wgfleet/internal/version"
)

func main() { cli.Main("wg-controller", run) }

const usage = `usage:
  wg-controller serve [--listen ADDR] [--data-dir DIR] [--database URL] [--poll-interval 60s] ...
  wg-controller demo  [--listen ADDR] [--data-dir DIR]
  wg-controller token create --name NAME [--data-dir DIR]
  wg-controller token list [--data-dir DIR]
  wg-controller token revoke --id ID [--data-dir DIR]
  wg-controller enroll-token create [--name NAME] [--label k=v]... [--expires 1h] [--data-dir DIR]
  wg-controller enroll-token list | revoke --id ID [--data-dir DIR]
  wg-controller user add --name NAME [--role viewer] | list | passwd --name NAME | rm --name NAME
  wg-controller rekey [--data-dir DIR]           (stop the controller first)
  wg-controller migrate-db --from DIR|URL --to URL|DIR   (stop the controller first)
  wg-controller version                          (or --version)
  wg-controller healthcheck [--listen ADDR]      (the container's HEALTHCHECK)
  wg-controller node list|show|add|edit|enable|disable|test|rm ...   the nodes, through a running controller
  wg-controller peer list|show|add|edit|rm|config|qr|move|restrict|allow ...   the peers, likewise
        (--server URL or WG_CONTROLLER_URL, --token or WG_CONTROLLER_TOKEN; see docs/CLI.md)
Run "wg-controller COMMAND -h" for the flags of a command.`

// run dispatches the subcommand. stdout carries only what a script reads
// (a new token or master key, the version); everything else goes to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "demo":
		return demo(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		return token(ctx, args[1:], getenv, stdout, stderr)
	case "enroll-token":
		return enrollToken(ctx, args[1:], getenv, stdout, stderr)
	case "user":
		return user(ctx, args[1:], getenv, os.Stdin, stdout, stderr)
	case "rekey":
		return rekey(ctx, args[1:], getenv, stdout, stderr)
	case "migrate-db":
		return migrateDB(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args[1:], getenv, stderr)
	case "node":
		return node(ctx, args[1:], getenv, stdout, stderr)
	case "peer":
		return peer(ctx, args[1:], getenv, stdout, stderr)
	case "version", "--version", "-version":
		if len(args) == 2 && (args[1] == "-h" || args[1] == "--help") {
			fmt.Fprintln(stderr, "usage: wg-controller version\n\nPrints the version, commit and build date.")
			return flag.ErrHelp
		}
		if len(args) > 1 {
			return fmt.Errorf("version takes no arguments, got %q", args[1])
		}
		_, err := fmt.Fprintln(stdout, version.Get().Describe("wg-controller"))
		return err
	case "-h", "--help", "help":
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	default:
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
